/** Deltas and precompressed parts through the real app: admin uploads, SQLite, files on disk. */
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { applyDelta } from 'fossil-delta';
import { describe, expect, it } from 'vitest';
import { PATHS, type CheckInResponse, type FetchTask } from '../protocol/index.js';
import { createUpdateServer, deltaQueueOf } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';

function setup(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-deltas-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const app = createUpdateServer({ store, blobs, token: TOKEN, cdn: ['https://cdn.test/u'], ...o });
  const admin = (method: string, path: string, body?: unknown) =>
    app.request('/' + path, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}` },
      ...(body === undefined ? {} : { body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) }),
    });
  const publish = async (dist: FakeDist) => {
    for (const a of [...dist.manifest.assets, ...(dist.manifest.sw ? [dist.manifest.sw] : [])]) {
      expect((await admin('PUT', PATHS.adminBlob(a.sha256), dist.files.get(a.path)!)).status).toBe(201);
    }
    expect((await admin('POST', PATHS.adminReleases, dist.manifest)).status).toBe(201);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: dist.manifest.id })).status).toBe(200);
    // The publish answered before its deltas were computed: these tests are about the deltas.
    await deltaQueueOf(app)?.idle();
  };
  const plan = async (from: string) => {
    const res = await app.request(`http://localhost/${PATHS.checkIn}`, {
      method: 'POST', body: JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release: from, caps: { sync: true, periodicSync: false, swIds: true } }),
    });
    const body = (await res.json()) as CheckInResponse;
    if (body.status !== 'update') throw new Error('expected an update');
    return body.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch');
  };
  return { app, blobs, publish, plan };
}

// A chunk the size of real app code, changed in one line between builds, under Vite's hashed names.
const chunk = (n: number) => Array.from({ length: 400 }, (_, i) => `export function f${i}(x){return x*${i}+${i === 200 ? n : 1}}`).join('\n');
const build = (n: number, hash: string) =>
  fakeDist({ 'index.html': `<h1>v${n}</h1>`, [`assets/index-${hash}.js`]: chunk(n), 'assets/logo.svg': '<svg/>' }, { version: String(n), sw: 'self.x=1' });
const js = (d: FakeDist) => d.manifest.assets.find((a) => a.path.endsWith('.js'))!;

describe('deltas', () => {
  it('are computed after publish from the predecessor of the same logical file, offered in the plan (CDN first), and build the part exactly', async () => {
    const { app, publish, plan } = setup({ deltas: { inlineBytes: 0 } });
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    const fetches = await plan(d1.manifest.id);
    const task = fetches.find((f) => f.sha256 === js(d2).sha256)!;
    const from = js(d1).sha256;
    const path = PATHS.delta(from, task.sha256);
    expect(task.deltas).toEqual([
      { from, url: `https://cdn.test/u/${path}`, size: expect.any(Number) },
      { from, url: `http://localhost/${path}`, size: task.deltas![0]!.size },
    ]);
    // index.html changed too, but a delta of 11 bytes saves nothing: whole part only.
    expect(fetches.find((f) => f.sha256 !== task.sha256)?.deltas).toBeUndefined();

    const res = await app.request('/' + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    const delta = new Uint8Array(await res.arrayBuffer());
    expect(delta.byteLength).toBe(task.deltas![0]!.size);
    expect(delta.byteLength).toBeLessThan(js(d2).size / 10);
    const built = applyDelta(d1.files.get(js(d1).path)!, delta);
    expect(new TextDecoder().decode(built)).toBe(chunk(2));
  });

  it('a small delta travels inside the plan as a data: URL, no request needed', async () => {
    const { publish, plan } = setup();
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    const task = (await plan(d1.manifest.id)).find((f) => f.sha256 === js(d2).sha256)!;
    expect(task.deltas).toHaveLength(1);
    const d = task.deltas![0]!;
    expect(d.from).toBe(js(d1).sha256);
    expect(d.size).toBeLessThanOrEqual(1024);
    expect(d.url).toMatch(/^data:application\/octet-stream;base64,/);
    // What the SW does with it: fetch() decodes data: URLs.
    const bytes = new Uint8Array(await (await fetch(d.url)).arrayBuffer());
    expect(bytes.byteLength).toBe(d.size);
    expect(new TextDecoder().decode(applyDelta(d1.files.get(js(d1).path)!, bytes))).toBe(chunk(2));
  });

  it('are offered only to a client that holds the base: from an unknown or older release, whole parts', async () => {
    const { publish, plan } = setup();
    const [d1, d2, d3] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB'), await build(3, 'CCCCCCCC')];
    await publish(d1);
    await publish(d2);
    await publish(d3);
    // From v1 (two releases back): the v1 → v3 delta was computed after v3's publish (history 3).
    const fromV1 = (await plan(d1.manifest.id)).find((f) => f.sha256 === js(d3).sha256)!;
    expect(fromV1.deltas?.[0]?.from).toBe(js(d1).sha256);
    const fresh = (await plan('0123456789abcdef')).find((f) => f.sha256 === js(d3).sha256)!;
    expect(fresh.deltas).toBeUndefined();
  });

  it('off (`deltas: false`): none computed, none offered, the route 404s', async () => {
    const { app, publish, plan } = setup({ deltas: false });
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    const fetches = await plan(d1.manifest.id);
    expect(fetches.every((f) => f.deltas === undefined)).toBe(true);
    const res = await app.request('/' + PATHS.delta(js(d1).sha256, js(d2).sha256));
    expect(res.status).toBe(404);
  });

  it('unknown pairs 404 and malformed names 400, as JSON error codes', async () => {
    const { app } = setup();
    const res = await app.request('/' + PATHS.delta('a'.repeat(64), 'b'.repeat(64)));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const bad = await app.request('/v1/deltas/xyz/' + 'b'.repeat(64));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_hash');
  });
});

describe('compressed check-in answers', () => {
  it('an update plan travels compressed when accepted (a compact one as gzip spliced from fragments), decodes to the same JSON; a `current` answer is left as is', async () => {
    const { app, publish } = setup({ now: () => 1_700_000_000_000 });
    const [d1, d2] = [await build(1, 'AAAAAAAA'), await build(2, 'BBBBBBBB')];
    await publish(d1);
    await publish(d2);
    for (const compactPlans of [false, true]) {
      const body = (release: string) => JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, compactPlans, swIds: true } });
      const ask = (release: string, ae?: string) => app.request(`http://localhost/${PATHS.checkIn}`, { method: 'POST', body: body(release), headers: ae ? { 'Accept-Encoding': ae } : {} });
      const plain = await ask(d1.manifest.id);
      expect(plain.headers.get('Content-Encoding')).toBeNull();
      const text = await plain.text();
      expect(JSON.parse(text)).toHaveProperty(compactPlans ? 'plan.fetch' : 'plan.tasks');
      // A compact plan in gzip is spliced from fragments deflated once (compress-answer.ts); a
      // full one, for a worker before 0.3, is compressed whole, brotli first.
      const browser = compactPlans ? 'gzip' : 'br';
      for (const [ae, coding, decode] of [['gzip, deflate, br, zstd', browser, browser === 'br' ? brotliDecompressSync : gunzipSync], ['br', 'br', brotliDecompressSync], ['gzip', 'gzip', gunzipSync]] as const) {
        const packed = await ask(d1.manifest.id, ae);
        expect(packed.headers.get('Content-Encoding'), ae).toBe(coding);
        expect(packed.headers.get('Vary')).toContain('Accept-Encoding');
        expect(packed.headers.get('Access-Control-Allow-Origin')).toBe('*');
        const bytes = Buffer.from(await packed.arrayBuffer());
        expect(Number(packed.headers.get('Content-Length'))).toBe(bytes.byteLength);
        // A compact plan is mostly hashes, which do not compress; the full form repeats them.
        expect(bytes.byteLength, ae).toBeLessThan(text.length * (compactPlans ? 0.7 : 0.5));
        expect(JSON.parse(decode(bytes).toString()), ae).toEqual(JSON.parse(text));
      }
    }
    const current = await ask2(app, d2.manifest.id, 'br');
    expect(current.headers.get('Content-Encoding')).toBeNull();
    expect(await current.json()).toEqual({ status: 'current', nextCheckIn: 3600, recorded: expect.stringMatching(/^[0-9a-z]{1,16}$/) });
  });
});

const ask2 = (app: { request: (url: string, init: RequestInit) => Response | Promise<Response> }, release: string, ae: string) =>
  app.request(`http://localhost/${PATHS.checkIn}`, { method: 'POST', body: JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }), headers: { 'Accept-Encoding': ae } });

describe('precompressed parts', () => {
  it('brotli or gzip by Accept-Encoding, with Vary and an ETag per coding; identity for Range and for clients that accept neither', async () => {
    const { app, publish } = setup();
    const d1 = await build(1, 'AAAAAAAA');
    await publish(d1);
    const { sha256, size } = js(d1);
    const url = '/' + PATHS.blob(sha256);
    const br = await app.request(url, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    expect(br.headers.get('Content-Encoding')).toBe('br');
    expect(br.headers.get('Vary')).toBe('Accept-Encoding');
    expect(br.headers.get('ETag')).toBe(`"${sha256}-br"`);
    const brBytes = Buffer.from(await br.arrayBuffer());
    expect(Number(br.headers.get('Content-Length'))).toBe(brBytes.byteLength);
    expect(brBytes.byteLength).toBeLessThan(size / 4);
    expect(brotliDecompressSync(brBytes).toString()).toBe(chunk(1));

    const gz = await app.request(url, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.headers.get('Content-Encoding')).toBe('gzip');
    expect(gz.headers.get('ETag')).toBe(`"${sha256}-gzip"`);
    expect(gunzipSync(Buffer.from(await gz.arrayBuffer())).toString()).toBe(chunk(1));

    const none = await app.request(url, { headers: { 'Accept-Encoding': 'br;q=0, identity' } });
    expect(none.headers.get('Content-Encoding')).toBeNull();
    expect(none.headers.get('ETag')).toBe(`"${sha256}"`);
    expect(await none.text()).toBe(chunk(1));

    const range = await app.request(url, { headers: { 'Accept-Encoding': 'br', Range: 'bytes=10-19' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('Content-Encoding')).toBeNull();
    expect(await range.text()).toBe(chunk(1).slice(10, 20));

    const cached = await app.request(url, { headers: { 'Accept-Encoding': 'br', 'If-None-Match': `"${sha256}-br"` } });
    expect(cached.status).toBe(304);
  });

  it('a part compression does not shrink is served as is, without Vary', async () => {
    const { app, publish } = setup();
    const d1 = await build(1, 'AAAAAAAA');
    await publish(d1);
    const svg = d1.manifest.assets.find((a) => a.path.endsWith('.svg'))!;
    const res = await app.request('/' + PATHS.blob(svg.sha256), { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(res.headers.get('Content-Encoding')).toBeNull();
    expect(res.headers.get('Vary')).toBeNull();
    expect(await res.text()).toBe('<svg/>');
  });
});
