/** Deltas on disk that are not what they should be, through a real server on 127.0.0.1 and real files. */
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { applyDelta } from 'fossil-delta';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PATHS, type CheckInResponse, type FetchTask } from '../protocol/index.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { startServer } from './node.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';

async function setup(inlineBytes: number) {
  const { dir, store } = tempStore({ prefix: 'updraft-delta-faults-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const server = await startServer({ store, blobs, dataDir: dir, token: TOKEN, serve: false, deltas: { inlineBytes } });
  onTestFinished(() => server.close());
  const admin = (method: string, path: string, body: Uint8Array | unknown) =>
    fetch(new URL(path, server.url), {
      method,
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body),
    });
  const publish = async (dist: FakeDist) => {
    for (const a of [...dist.manifest.assets, ...(dist.manifest.sw ? [dist.manifest.sw] : [])]) {
      const res = await admin('PUT', PATHS.adminBlob(a.sha256), dist.files.get(a.path)!);
      expect(res.status).toBe(201);
      await res.arrayBuffer();
    }
    const release = await admin('POST', PATHS.adminReleases, dist.manifest);
    expect(release.status).toBeLessThan(300);
    await release.arrayBuffer();
    const channel = await admin('PUT', PATHS.adminChannel('stable'), { release: dist.manifest.id });
    expect(channel.status).toBe(200);
    await channel.arrayBuffer();
    // The publish answered before its deltas were computed: these tests are about the deltas.
    await server.deltas!.idle();
  };
  /** The check-in answer's status and, for an update, its fetch tasks. */
  const checkIn = async (from: string) => {
    const res = await fetch(new URL(PATHS.checkIn, server.url), {
      method: 'POST', body: JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release: from, caps: { sync: true, periodicSync: false, swIds: true } }),
    });
    const body = (await res.json()) as CheckInResponse | { error: { code: string } };
    const fetches = 'status' in body && body.status === 'update' ? body.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch') : [];
    return { status: res.status, body, fetches };
  };
  return { dir, server, blobs, publish, checkIn };
}

// A chunk the size of real app code, changed in one line between builds, under Vite's hashed names.
const chunk = (n: number) => Array.from({ length: 400 }, (_, i) => `export function f${i}(x){return x*${i}+${i === 200 ? n : 1}}`).join('\n');
const build = (n: number, hash: string) =>
  fakeDist({ 'index.html': `<h1>v${n}</h1>`, [`assets/index-${hash}.js`]: chunk(n) }, { version: String(n), sw: 'self.x=1' });
const js = (d: FakeDist) => d.manifest.assets.find((a) => a.path.endsWith('.js'))!;

describe('deltas that went wrong on disk', () => {
  // A rename without fsync can reach the disk before the data: after a power loss the delta's name
  // holds nothing, or the start of it. `ensure` took any file under the name as done, so such a
  // delta was offered to every client (each then rejected it) and never computed again.
  it.each([
    ['empty', 0, 0],
    ['cut short', 0, 0.5],
    ['empty, inline', 1024, 0],
  ])('a torn delta (%s) is not offered, and publishing the release again writes it whole', async (_, inlineBytes, keep) => {
    const { blobs, publish, checkIn } = await setup(inlineBytes);
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    const path = join(blobs.root, 'deltas', js(d1).sha256.slice(0, 2), `${js(d1).sha256}-${js(d2).sha256}`);
    const whole = readFileSync(path);
    truncateSync(path, Math.floor(whole.byteLength * keep));

    const torn = await checkIn(d1.manifest.id);
    expect(torn.status).toBe(200);
    const task = torn.fetches.find((f) => f.sha256 === js(d2).sha256)!;
    expect(task.deltas).toBeUndefined();

    await publish(d2);
    expect(readFileSync(path)).toEqual(whole);
    const again = (await checkIn(d1.manifest.id)).fetches.find((f) => f.sha256 === js(d2).sha256)!;
    expect(again.deltas).toHaveLength(1);
    expect(again.deltas![0]!.url).toMatch(inlineBytes ? /^data:/ : /^http:\/\/127\.0\.0\.1:\d+\/v1\/deltas\//);
    const bytes = new Uint8Array(await (await fetch(again.deltas![0]!.url)).arrayBuffer());
    expect(new TextDecoder().decode(applyDelta(d1.files.get(js(d1).path)!, bytes))).toBe(chunk(2));
  });

  it('a delta that cannot be looked up (an I/O error, not a missing file) costs the delta, not the check-in', async () => {
    const { blobs, publish, checkIn } = await setup(0);
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    // A file where the delta's directory should be: stat() fails with ENOTDIR, not ENOENT.
    const dir = join(blobs.root, 'deltas', js(d1).sha256.slice(0, 2));
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory');
    const answer = await checkIn(d1.manifest.id);
    expect(answer.status).toBe(200);
    expect(answer.fetches.map((f) => f.sha256).sort()).toEqual(d2.manifest.assets.filter((a) => !d1.manifest.assets.some((b) => b.sha256 === a.sha256)).map((a) => a.sha256).sort());
    expect(answer.fetches.every((f) => f.deltas === undefined)).toBe(true);
  });
});

describe('a delta that cannot be written after publish', () => {
  // A delta only saves bytes. Writing one failed (here ENOTDIR; ENOSPC on a full disk) after the
  // release was stored, and the publish answered 500: the CLI said it failed though the release
  // was there, and the rest of its deltas were not computed.
  it('costs that delta, not the publish; publishing again writes it', async () => {
    const { blobs, publish, checkIn } = await setup(0);
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    const dir = join(blobs.root, 'deltas', js(d1).sha256.slice(0, 2));
    mkdirSync(dirname(dir), { recursive: true });
    writeFileSync(dir, 'not a directory');
    await publish(d2); // expects a 2xx
    const answer = await checkIn(d1.manifest.id);
    expect(answer.status).toBe(200);
    expect(answer.fetches.find((f) => f.sha256 === js(d2).sha256)!.deltas).toBeUndefined();

    rmSync(dir);
    await publish(d2);
    const again = (await checkIn(d1.manifest.id)).fetches.find((f) => f.sha256 === js(d2).sha256)!;
    expect(again.deltas).toHaveLength(1);
    const bytes = new Uint8Array(await (await fetch(again.deltas![0]!.url)).arrayBuffer());
    expect(new TextDecoder().decode(applyDelta(d1.files.get(js(d1).path)!, bytes))).toBe(chunk(2));
  });
});
