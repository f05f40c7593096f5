import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

let dir: string;
let store: SqliteStore;
let blobs: BlobStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'updraft-serve-'));
  store = openSqliteStore(dir);
  blobs = new BlobStore(join(dir, 'blobs'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function publish(d: FakeDist, channel?: { percent?: number }) {
  for (const part of [...d.manifest.assets, ...(d.manifest.sw ? [d.manifest.sw] : [])]) {
    const bytes = d.files.get(part.path)!;
    await blobs.write(part.sha256, [bytes] as unknown as AsyncIterable<Uint8Array>);
    await store.putBlob(part.sha256, bytes.byteLength);
  }
  await store.insertRelease(d.manifest, 1);
  if (channel) await store.putChannel(d.manifest.app, 'stable', { release: d.manifest.id, ...channel }, 1);
}

const dist = (n: number) =>
  fakeDist({ 'index.html': `<h1>v${n}</h1>`, [`assets/app-${n}.js`]: `console.log(${n})`, 'robots.txt': 'ok', 'data.bin': '0123456789' }, { version: String(n), sw: 'sw()' });

describe('GET /v1/blobs/:sha256', () => {
  let d: FakeDist;
  let sha: string;
  let app: ReturnType<typeof createUpdateServer>;
  beforeEach(async () => {
    d = await dist(1);
    await publish(d);
    sha = d.manifest.assets.find((a) => a.path === 'data.bin')!.sha256;
    app = createUpdateServer({ store, blobs });
  });
  const get = (headers: Record<string, string> = {}, method = 'GET') => app.request(`/${PATHS.blob(sha)}`, { method, headers });

  it('serves immutable bytes with a strong ETag and CORS', async () => {
    const res = await get({ Origin: 'https://app.test' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('0123456789');
    expect(res.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('ETag')).toBe(`"${sha}"`);
    expect(res.headers.get('Accept-Ranges')).toBe('bytes');
    expect(res.headers.get('Content-Length')).toBe('10');
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Expose-Headers')).toBe('Retry-After,Content-Length,Content-Range,ETag');
  });

  it('HEAD has headers and no body', async () => {
    const res = await get({}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Length')).toBe('10');
    expect(await res.text()).toBe('');
  });

  it('If-None-Match → 304', async () => {
    expect((await get({ 'If-None-Match': `"${sha}"` })).status).toBe(304);
    expect((await get({ 'If-None-Match': `"other", W/"${sha}"` })).status).toBe(304);
    expect((await get({ 'If-None-Match': '"other"' })).status).toBe(200);
  });

  it.each([
    ['bytes=2-5', '2345', 'bytes 2-5/10'],
    ['bytes=7-', '789', 'bytes 7-9/10'],
    ['bytes=-2', '89', 'bytes 8-9/10'],
  ])('Range %s → 206', async (range, body, contentRange) => {
    const res = await get({ Range: range });
    expect(res.status).toBe(206);
    expect(res.headers.get('Content-Range')).toBe(contentRange);
    expect(res.headers.get('Content-Length')).toBe(String(body.length));
    expect(await res.text()).toBe(body);
  });

  it('If-Range with another validator → whole blob', async () => {
    const res = await get({ Range: 'bytes=0-1', 'If-Range': '"stale"' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('0123456789');
  });

  it.each(['bytes=10-', 'bytes=0-1,4-5', 'bytes=abc', 'bytes=5-2'])('Range %s → 416 JSON', async (range) => {
    const res = await get({ Range: range });
    expect(res.status).toBe(416);
    expect(res.headers.get('Content-Range')).toBe('bytes */10');
    // An error: neither the blob's strong ETag nor its immutable caching.
    expect(res.headers.get('ETag')).toBeNull();
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ error: { code: 'range_not_satisfiable' } });
  });

  it('invalid hash → 400, unknown → 404', async () => {
    for (const bad of ['xyz', 'A'.repeat(64), '..%2F..%2Fupdraft.db']) {
      const res = await app.request(`/v1/blobs/${bad}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_hash' } });
    }
    const res = await app.request(`/${PATHS.blob('0'.repeat(64))}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('serving the app', () => {
  it('nothing published → 404 JSON saying to publish', async () => {
    const app = createUpdateServer({ store, blobs });
    const res = await app.request('/');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/updraft publish/);
  });

  it('several apps and no serve.app → 404 naming them and the CLI flag; a serve.app with nothing published is named in the 404', async () => {
    await publish(await fakeDist({ 'index.html': 'a' }, { app: 'alpha', version: '1', sw: 'sw()' }), {});
    await publish(await fakeDist({ 'index.html': 'b' }, { app: 'beta', version: '1', sw: 'sw()' }), {});
    const error = async (res: Response) => [res.status, ((await res.json()) as { error: { code: string; message: string } }).error] as const;
    expect(await error(await createUpdateServer({ store, blobs }).request('/'))).toEqual([404, {
      code: 'unknown_app', message: 'several apps published (alpha, beta): name the one to serve at / (`updraft serve --app`, or serve.app)',
    }]);
    expect(await error(await createUpdateServer({ store, blobs, serve: { app: 'alpah' } }).request('/'))).toEqual([404, {
      code: 'unknown_channel', message: 'nothing published on channel stable of app alpah: run `updraft publish <dist> --channel stable`',
    }]);
    expect((await createUpdateServer({ store, blobs, serve: { app: 'beta' } }).request('/')).status).toBe(200);
  });

  it('serves the channel release with the right headers and SPA fallback', async () => {
    const d = await dist(1);
    await publish(d, {});
    const app = createUpdateServer({ store, blobs });
    const cases: [string, number, string | null, string | null, string | null][] = [
      // path, status, content-type prefix, cache-control, body
      ['/', 200, 'text/html', 'no-cache', '<h1>v1</h1>'],
      ['/index.html', 200, 'text/html', 'no-cache', '<h1>v1</h1>'],
      ['/assets/app-1.js', 200, 'text/javascript', 'public, max-age=31536000, immutable', 'console.log(1)'],
      ['/robots.txt', 200, 'text/plain', 'no-cache', 'ok'],
      ['/sw.js', 200, 'text/javascript', 'no-cache', 'sw()'],
      ['/settings/profile', 200, 'text/html', 'no-cache', '<h1>v1</h1>'],
      ['/missing.png', 404, 'application/json', null, null],
      ['/assets/gone-123.js', 404, 'application/json', null, null],
      ['/v1/unknown', 404, 'application/json', null, null],
    ];
    for (const [path, status, type, cache, body] of cases) {
      const res = await app.request(path);
      expect(res.status, path).toBe(status);
      if (type) expect(res.headers.get('Content-Type'), path).toMatch(new RegExp(`^${type}`));
      if (cache) expect(res.headers.get('Cache-Control'), path).toBe(cache);
      if (status === 200) expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
      if (body) expect(await res.text(), path).toBe(body);
    }
    const manifest = await app.request('/updraft-release.json');
    expect(manifest.headers.get('Cache-Control')).toBe('no-cache');
    expect(await manifest.json()).toEqual(d.manifest);
  });

  it('a directory path serves its index.html with or without the slash, the root the entry, as the worker resolves them (sw/router.test.ts)', async () => {
    const pages = { 'main.html': '<h1>main</h1>', 'index.html': '<h1>index</h1>', 'docs/index.html': '<h1>docs</h1>', 'docs/guide.css': 'p{}' };
    await publish(await fakeDist(pages, { entry: 'main.html' }), {});
    const app = createUpdateServer({ store, blobs });
    const cases: [string, number, string | null][] = [
      ['/', 200, '<h1>main</h1>'],
      ['/docs/', 200, '<h1>docs</h1>'],
      ['/docs', 200, '<h1>docs</h1>'],
      ['/docs/?x=1', 200, '<h1>docs</h1>'],
      ['/docs/intro', 200, '<h1>main</h1>'],
      ['/settings/', 200, '<h1>main</h1>'],
      ['/index.html', 200, '<h1>index</h1>'],
      ['/docs/guide.css', 200, 'p{}'],
      ['/docs/missing.png', 404, null],
    ];
    for (const [path, status, body] of cases) {
      const res = await app.request(path);
      expect(res.status, path).toBe(status);
      if (body) expect(await res.text(), path).toBe(body);
    }
  });

  it('during a partial rollout, first visits get the previous release', async () => {
    const [d1, d2] = [await dist(1), await dist(2)];
    await publish(d1, {});
    await publish(d2, { percent: 10 });
    const app = createUpdateServer({ store, blobs });
    expect(await (await app.request('/')).text()).toBe('<h1>v1</h1>');
    await store.putChannel('demo', 'stable', { release: d2.manifest.id, percent: 100 }, 2);
    expect(await (await app.request('/')).text()).toBe('<h1>v2</h1>');
  });

  it('serve: false leaves only the API', async () => {
    await publish(await dist(1), {});
    const app = createUpdateServer({ store, blobs, serve: false });
    const res = await app.request('/');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
