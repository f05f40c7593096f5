/** Deltas computed after the publish answered, through a real server on 127.0.0.1, real SQLite and real files. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyDelta } from 'fossil-delta';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PATHS, type CheckInResponse, type FetchTask, type StatusResponse } from '../protocol/index.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { startServer, type RunningServer } from './node.js';
import { formatStatus } from './status-format.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';

// 1 MiB of indented JSON, and the same rewritten (every letter shifted): a pair Fossil spends
// ~1.7 s on (delta-budget.test.ts), which holds the queue while the tests look at the server.
const data = Array.from({ length: 14_000 }, (_, i) => `    {\n        "name": "item${i}",\n        "value": ${i % 1000},\n        "tags": ["a", "b"]\n    },`).join('\n').slice(0, 1 << 20);
const rewritten = data.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 7) % 26) + 97));
// A module changed in one line: its delta is quick and worth offering.
const chunk = (n: number) => Array.from({ length: 400 }, (_, i) => `export function h${i}(x){return x*${i}+${i === 200 ? n : 1}}`).join('\n');

// `big` first: its pair is queued before the chunk's, so the chunk's delta lands only after it.
const build = (n: number, hash: string, big: string) =>
  fakeDist({ [`assets/big-${hash}.js`]: big, [`assets/index-${hash}.js`]: chunk(n), 'index.html': `<h1>v${n}</h1>` }, { version: String(n), sw: 'self.x=1' });
const part = (d: FakeDist, name: string) => d.manifest.assets.find((a) => a.path.startsWith(`assets/${name}-`))!;

async function serve(dir: string, o: { maxMs?: number } = {}) {
  const { store } = tempStore({ dir });
  const blobs = new BlobStore(join(dir, 'blobs'));
  // A check-in cache that never expires by age: a delta is offered only because its landing invalidated it.
  const server = await startServer({ store, blobs, token: TOKEN, serve: false, checkInCacheMs: 3_600_000, deltas: { inlineBytes: 0, maxMs: o.maxMs ?? 30_000 } });
  onTestFinished(() => server.close());
  return server;
}

function client(server: RunningServer) {
  const admin = async (method: string, path: string, body?: Uint8Array | unknown) => {
    const res = await fetch(new URL(path, server.url), {
      method,
      headers: { Authorization: `Bearer ${TOKEN}` },
      ...(body === undefined ? {} : { body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  /** Uploads, publishes and points `stable` at `d`; answers once the server answered, not once its deltas are computed. */
  const publish = async (d: FakeDist) => {
    for (const a of [...d.manifest.assets, d.manifest.sw!]) expect((await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!)).status).toBe(201);
    expect((await admin('POST', PATHS.adminReleases, d.manifest)).status).toBeLessThan(300);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: d.manifest.id })).status).toBe(200);
  };
  const fetches = async (from: string) => {
    const res = await fetch(new URL(PATHS.checkIn, server.url), {
      method: 'POST', body: JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release: from, caps: { sync: true, periodicSync: false, swIds: true } }),
    });
    const body = (await res.json()) as CheckInResponse;
    if (body.status !== 'update') throw new Error(`expected an update, got ${body.status}`);
    return body.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch');
  };
  const status = async () => (await admin('GET', PATHS.adminStatus)).body as StatusResponse;
  /** The text the plan's one delta for `to`'s index chunk builds from `from`'s, fetched from where the plan says. */
  const indexDeltaText = async (from: FakeDist, to: FakeDist) => {
    const task = (await fetches(from.manifest.id)).find((f) => f.sha256 === part(to, 'index').sha256)!;
    expect(task.deltas).toHaveLength(1);
    const bytes = new Uint8Array(await (await fetch(task.deltas![0]!.url)).arrayBuffer());
    return new TextDecoder().decode(applyDelta(from.files.get(part(from, 'index').path)!, bytes));
  };
  return { admin, publish, fetches, status, indexDeltaText };
}

const deltaFile = (server: RunningServer, from: string, to: string) => join(server.blobs.root, 'deltas', from.slice(0, 2), `${from}-${to}`);
const pendingMarkers = (server: RunningServer) => {
  const dir = join(server.blobs.root, 'deltas', 'pending');
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('deltas after publish', () => {
  it('a server sharing the blobs directory with the publisher counts its pending release in status (elsewhere), for its app, and nothing once the deltas are done', async () => {
    const { dir } = tempStore({ prefix: 'updraft-delta-elsewhere-' });
    const publisher = await serve(dir);
    const other = await serve(dir);
    const [d1, d2] = [await build(1, 'AAAAAAAA', data), await build(2, 'BBBBBBBB', rewritten)];
    await client(publisher).publish(d1);
    await publisher.deltas!.idle();

    await client(publisher).publish(d2);
    // The big pair holds the publisher's queue: its own count is pairs, the other server's a release.
    expect((await client(publisher).status()).deltas).toEqual({ pending: expect.any(Number), elsewhere: 0 });
    const seen = await client(other).status();
    expect(seen.deltas).toEqual({ pending: 0, elsewhere: 1 });
    expect(formatStatus(seen)).toMatch(/\ndeltas: those of 1 release pending on another server sharing the blobs directory \(the one that took the publish; or one that stopped: a start or publish here takes them up\)$/);
    expect(((await client(other).admin('GET', `${PATHS.adminStatus}?app=another`)).body as StatusResponse).deltas).toEqual({ pending: 0, elsewhere: 0 });

    await publisher.deltas!.idle();
    const done = await client(other).status();
    expect(done.deltas).toEqual({ pending: 0, elsewhere: 0 });
    expect(formatStatus(done)).not.toContain('deltas:');
  }, 30_000);

  it('the publish answers before they are computed; a check-in meanwhile gets the whole part, one after the delta lands gets the delta', async () => {
    const { dir } = tempStore({ prefix: 'updraft-delta-queue-' });
    const server = await serve(dir);
    const { publish, fetches, status, indexDeltaText } = client(server);
    const [d1, d2] = [await build(1, 'AAAAAAAA', data), await build(2, 'BBBBBBBB', rewritten)];
    await publish(d1);
    await server.deltas!.idle();

    await publish(d2);
    const index = deltaFile(server, part(d1, 'index').sha256, part(d2, 'index').sha256);
    // Answered and the channel moved while the big pair holds the queue, the chunk's pair behind it.
    expect((await status()).deltas!.pending).toBeGreaterThanOrEqual(2);
    expect(formatStatus(await status())).toMatch(/\ndeltas: \d+ pending \(computed after publish; until then those parts are fetched whole\)$/);
    expect(pendingMarkers(server)).toEqual([d2.manifest.id]);
    const before = (await fetches(d1.manifest.id)).find((f) => f.sha256 === part(d2, 'index').sha256)!;
    // Not there after the answer, so not there while it was planned: the plan fetches it whole.
    expect(existsSync(index)).toBe(false);
    expect(before.deltas).toBeUndefined();

    await server.deltas!.idle();
    expect((await status()).deltas).toEqual({ pending: 0, elsewhere: 0 });
    expect(formatStatus(await status())).not.toContain('deltas:');
    expect(pendingMarkers(server)).toEqual([]);
    expect(existsSync(index)).toBe(true);
    // The same from → to as above, its template cached for an hour: the landing delta invalidated it.
    expect(await indexDeltaText(d1, d2)).toBe(chunk(2));
  }, 30_000);

  it('a server stopped with deltas pending computes them at its next start, and nothing half-made is offered meanwhile', async () => {
    const { dir } = tempStore({ prefix: 'updraft-delta-restart-' });
    const [d1, d2] = [await build(1, 'AAAAAAAA', data), await build(2, 'BBBBBBBB', rewritten)];
    const first = await serve(dir);
    await client(first).publish(d1);
    await first.deltas!.idle();
    await client(first).publish(d2);
    const index = deltaFile(first, part(d1, 'index').sha256, part(d2, 'index').sha256);
    const big = deltaFile(first, part(d1, 'big').sha256, part(d2, 'big').sha256);
    expect(first.deltas!.pending()).toBeGreaterThanOrEqual(2);
    // Stopped mid-pair: the big pair is abandoned unwritten, the chunk's never started.
    await first.close();
    expect([existsSync(big), existsSync(index)]).toEqual([false, false]);
    expect(pendingMarkers(first)).toEqual([d2.manifest.id]);

    const second = await serve(dir);
    const { indexDeltaText } = client(second);
    // Resumed at start, before any publish of this process.
    await second.deltas!.idle();
    expect(existsSync(big)).toBe(true);
    expect(existsSync(index)).toBe(true);
    expect(pendingMarkers(second)).toEqual([]);
    expect(await indexDeltaText(d1, d2)).toBe(chunk(2));
  }, 30_000);

  it('two servers sharing the blobs both computing the same deltas: harmless, each stored whole', async () => {
    const { dir } = tempStore({ prefix: 'updraft-delta-shared-' });
    const [d1, d2] = [await build(1, 'AAAAAAAA', data), await build(2, 'BBBBBBBB', rewritten)];
    const a = await serve(dir);
    await client(a).publish(d1);
    await client(a).publish(d2);
    // A second process on the same database and blobs starts while `a` is on the big pair: it
    // queues the release too (its marker), and both compute and write the same deltas.
    expect(a.deltas!.pending()).toBeGreaterThanOrEqual(2);
    const b = await serve(dir);
    await Promise.all([a.deltas!.idle(), b.deltas!.idle()]);
    for (const name of ['big', 'index']) {
      const [from, to] = [part(d1, name), part(d2, name)];
      const file = deltaFile(a, from.sha256, to.sha256);
      expect(existsSync(file), name).toBe(true);
      const built = applyDelta(d1.files.get(from.path)!, new Uint8Array(readFileSync(file)));
      expect(Buffer.from(built).equals(Buffer.from(d2.files.get(to.path)!)), name).toBe(true);
      expect(readdirSync(dirname(file)).filter((n) => n.endsWith('.tmp')), name).toEqual([]);
    }
    expect(pendingMarkers(a)).toEqual([]);
    for (const s of [a, b]) {
      expect(await client(s).indexDeltaText(d1, d2)).toBe(chunk(2));
    }
  }, 30_000);
});
