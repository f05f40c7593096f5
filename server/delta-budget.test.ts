/** What computing deltas after a publish may cost the server, through a real server on 127.0.0.1 and real files. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PATHS, type CheckInResponse, type FetchTask } from '../protocol/index.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { startServer } from './node.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';

// 1 MiB of indented JSON, as a bundle's data or a vendored file: compressible, so it gets a delta.
const data = Array.from({ length: 14_000 }, (_, i) => `    {\n        "name": "item${i}",\n        "value": ${i % 1000},\n        "tags": ["a", "b"]\n    },`).join('\n').slice(0, 1 << 20);
// Every letter shifted: as compressible, but sharing little with `data` beyond its indentation and
// punctuation (a rewritten file, a major upgrade of a vendored library). Fossil's createDelta
// follows every hash hit of those runs and spends ~1.7 s on this pair (~3.6 s at 2 MiB, a minute
// at 8 MiB), in which a server computing it on its request thread answered nothing.
const rewritten = data.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 7) % 26) + 97));
// A small module changed in one line: its delta is quick and worth it.
const chunk = (n: number) => Array.from({ length: 400 }, (_, i) => `export function g${i}(x){return x*${i}+${i === 200 ? n : 1}}`).join('\n');

const build = (n: number, hash: string, vendor: string) =>
  fakeDist({ 'index.html': `<h1>v${n}</h1>`, [`assets/index-${hash}.js`]: chunk(n), [`assets/vendor-${hash}.js`]: vendor }, { version: String(n), sw: 'self.x=1' });
const part = (d: FakeDist, name: string) => d.manifest.assets.find((a) => a.path.startsWith(`assets/${name}-`))!.sha256;

describe('delta computation after publish', () => {
  it('a delta that takes longer than `deltas.maxMs` is given up (no delta, the publish succeeds at once), and check-ins are answered while it runs', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-delta-budget-' });
    const blobs = new BlobStore(join(dir, 'blobs'));
    const server = await startServer({ store, blobs, dataDir: dir, token: TOKEN, serve: false, deltas: { inlineBytes: 0, maxMs: 300 } });
    onTestFinished(() => server.close());
    const admin = (method: string, path: string, body: Uint8Array | unknown) =>
      fetch(new URL(path, server.url), { method, headers: { Authorization: `Bearer ${TOKEN}` }, body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) });
    const upload = async (d: FakeDist) => {
      for (const a of [...d.manifest.assets, d.manifest.sw!]) expect((await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!)).status).toBe(201);
    };
    const checkIn = async (from: string) => {
      const res = await fetch(new URL(PATHS.checkIn, server.url), {
        method: 'POST', body: JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release: from, caps: { sync: true, periodicSync: false, swIds: true } }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as CheckInResponse;
    };

    const [d1, d2] = [await build(1, 'AAAAAAAA', data), await build(2, 'BBBBBBBB', rewritten)];
    await upload(d1);
    expect((await admin('POST', PATHS.adminReleases, d1.manifest)).status).toBe(201);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: d1.manifest.id })).status).toBe(200);
    await upload(d2);

    // The publish answers at once, the deltas still to compute (the vendor pair runs until its
    // budget is spent); while they are, a check-in is answered: the work is not on the thread that
    // serves requests.
    expect((await admin('POST', PATHS.adminReleases, d2.manifest)).status).toBe(201);
    expect(server.deltas!.pending()).toBeGreaterThan(0);
    expect((await checkIn(d1.manifest.id)).status).toBe('current');
    expect(server.deltas!.pending()).toBeGreaterThan(0);
    await server.deltas!.idle();
    expect(server.deltas!.pending()).toBe(0);

    const deltaPath = (from: string, to: string) => join(blobs.root, 'deltas', from.slice(0, 2), `${from}-${to}`);
    expect(existsSync(deltaPath(part(d1, 'vendor'), part(d2, 'vendor')))).toBe(false);
    expect(existsSync(deltaPath(part(d1, 'index'), part(d2, 'index')))).toBe(true);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: d2.manifest.id })).status).toBe(200);
    const answer = await checkIn(d1.manifest.id);
    if (answer.status !== 'update') throw new Error('expected an update');
    const fetches = answer.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch');
    expect(fetches.find((f) => f.sha256 === part(d2, 'vendor'))!.deltas).toBeUndefined();
    expect(fetches.find((f) => f.sha256 === part(d2, 'index'))!.deltas).toHaveLength(1);
  }, 30_000);
});
