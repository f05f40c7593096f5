/**
 * Hostile input the property tests (fuzz.test.ts) are unlikely to stumble on: each case is a
 * defect found by hand, held here so it stays fixed. Real app, real SQLite, real blob files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, computeReleaseId, type ReleaseManifest } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

const TOKEN = 'bad-input-token';
let dir: string;
let store: SqliteStore;
let app: Hono;
let dist: FakeDist;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await app.request(`http://localhost/${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'updraft-bad-input-'));
  store = openSqliteStore(dir);
  app = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN });
  dist = await fakeDist({ 'index.html': '<h1>bad input</h1>', 'x.js': 'x()', 'y.js': 'y()' }, { sw: 'self.bad=1' });
  for (const part of [...dist.manifest.assets, dist.manifest.sw!]) {
    expect((await call('PUT', PATHS.adminBlob(part.sha256), dist.files.get(part.path)!)).status).toBe(201);
  }
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The manifest with `assets` and the id they (and its entry and sw) hash to: consistent, so only the path rule can refuse it. */
async function withAssets(assets: ReleaseManifest['assets']): Promise<ReleaseManifest> {
  const m = dist.manifest;
  return { ...m, assets, id: await computeReleaseId(assets, m.entry, m.sw) };
}

describe('publish: asset paths', () => {
  it('a tab, newline or other control character, or an unpaired surrogate, is 400 invalid_body: no two asset lists share an id, and nothing is stored', async () => {
    const [index, x, y] = ['index.html', 'x.js', 'y.js'].map((p) => dist.manifest.assets.find((a) => a.path === p)!) as [ReleaseManifest['assets'][number], ReleaseManifest['assets'][number], ReleaseManifest['assets'][number]];
    // One path spelling the lines of two: `x.js\t<x's hash>\ny.js` with y's hash hashes like x.js and y.js.
    const forged = await withAssets([index, { ...y, path: `x.js\t${x.sha256}\ny.js` }]);
    const real = await withAssets([index, x, y]);
    expect(forged.id).toBe(real.id);
    // A lone surrogate is encoded as U+FFFD: the same id as the real character's path.
    const lone = await withAssets([index, x, { ...y, path: 'y\ud800.js' }]);
    expect(lone.id).toBe((await withAssets([index, x, { ...y, path: 'y\ufffd.js' }])).id);
    const bad = [forged, lone, await withAssets([index, x, { ...y, path: 'y\u0001.js' }]), await withAssets([index, x, { ...y, path: 'y\u007f.js' }])];
    for (const m of bad) {
      const res = await call('POST', PATHS.adminReleases, m);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_body');
      expect(res.json.error.message).toMatch(/control characters or unpaired surrogates/);
    }
    expect(await store.getRelease(forged.id)).toBeNull();
    expect(await store.getRelease(lone.id)).toBeNull();
    // The real release under that id is then published as itself, not found "already published" as the forged one.
    const ok = await call('POST', PATHS.adminReleases, real);
    expect(ok).toEqual({ status: 201, json: { id: real.id, seq: expect.any(Number), created: true, version: real.version } });
    expect((await store.getRelease(real.id))!.manifest.assets.map((a) => a.path).sort()).toEqual(['index.html', 'x.js', 'y.js']);
  });
});

describe('publish: asset types', () => {
  it('a type no header can carry (CR/LF, NUL, past Latin-1) is 400 invalid_body, so the served app never answers 500; a media type or empty is taken', async () => {
    let n = 0;
    const build = async (type: string) => {
      const d = await fakeDist({ 'index.html': `<h1>type ${++n}</h1>`, 'a.js': `a(${n})` }, { app: `typed-${n}`, sw: 'self.typed=1' });
      for (const part of [...d.manifest.assets, d.manifest.sw!]) expect((await call('PUT', PATHS.adminBlob(part.sha256), d.files.get(part.path)!)).status).toBe(201);
      return { ...d.manifest, assets: d.manifest.assets.map((a) => (a.path === 'index.html' ? { ...a, type } : a)) };
    };
    for (const type of ['text/html\r\nSet-Cookie: a=1', 'text/html\u0000', 'текст/html', 'text/html\u00ff', 'html', 'text/html\n']) {
      const m = await build(type);
      const res = await call('POST', PATHS.adminReleases, m);
      expect(res.status, JSON.stringify(type)).toBe(400);
      expect(res.json.error.code).toBe('invalid_body');
      expect(res.json.error.message).toMatch(/assets\.\d+\.type: must be a media type/);
      expect(await store.getRelease(m.id)).toBeNull();
    }
    for (const type of ['text/html', 'text/html; charset=utf-8', 'image/svg+xml', '']) {
      const m = await build(type);
      expect((await call('POST', PATHS.adminReleases, m)).status, JSON.stringify(type)).toBe(201);
      expect((await call('PUT', PATHS.adminChannel('stable'), { release: m.id })).status).toBe(200);
      // Served as the app of that channel: the page answers with the type (or the path's own).
      const served = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), serve: { app: m.app, channel: 'stable' } });
      const page = await served.request('http://localhost/');
      expect(page.status).toBe(200);
      expect(page.headers.get('Content-Type')).toMatch(/^text\/html|^image\/svg\+xml/);
      expect(await page.text()).toBe(`<h1>type ${n}</h1>`);
    }
  });
});

describe('text shown to people', () => {
  it('a release version or pause reason with a line break or an escape sequence is 400 invalid_body: `updraft status` prints them as they are', async () => {
    const d = await fakeDist({ 'index.html': '<h1>text</h1>' }, { app: 'text', sw: 'self.text=1' });
    for (const part of [...d.manifest.assets, d.manifest.sw!]) expect((await call('PUT', PATHS.adminBlob(part.sha256), d.files.get(part.path)!)).status).toBe(201);
    const m = { ...d.manifest, version: '1.0.0\n\x1b[2Jfake row' };
    const res = await call('POST', PATHS.adminReleases, m);
    expect(res.status).toBe(400);
    expect(res.json.error.details.problems).toEqual(['version: must be one line without control characters']);
    expect(await store.getRelease(m.id)).toBeNull();
    // The same manifest with a plain version is published, and the channel made for the pause.
    expect((await call('POST', PATHS.adminReleases, { ...m, version: '1.0.0 (build 7)' })).status).toBe(201);
    expect((await call('PUT', PATHS.adminChannel('text'), { release: m.id })).status).toBe(200);
    const pause = await call('PUT', PATHS.adminChannel('text'), { paused: true, pausedReason: 'bad\x1b[31m build' });
    expect(pause.status).toBe(400);
    expect(pause.json.error.details.problems).toEqual(['pausedReason: must be one line without control characters']);
    expect((await store.getChannel(m.app, 'text'))!.paused).toBe(false);
  });
});

describe('arrays longer than allowed', () => {
  it('are refused on their length alone, before any item is examined: one problem, whatever the items (a public 1 MB report batch cost seconds and a gigabyte)', async () => {
    const cases: [string, string, string][] = [
      [PATHS.reports, `{"reports":[${Array(340_000).fill('{}').join(',')}]}`, 'reports: must hold at most 100 items, got 340000'],
      [PATHS.reports, `{"reports":[${Array(101).fill('{"client":1}').join(',')}]}`, 'reports: must hold at most 100 items, got 101'],
      [PATHS.adminMissingBlobs, `{"sha256s":[${Array(100_001).fill('"x"').join(',')}]}`, 'sha256s: must hold at most 100000 items, got 100001'],
    ];
    for (const [path, body, problem] of cases) {
      const res = await app.request(`http://localhost/${path}`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; details: { problems: string[] } } };
      expect(error.code).toBe('invalid_body');
      expect(error.details.problems).toEqual([problem]);
    }
    const m = dist.manifest;
    const manifest = { ...m, assets: Array.from({ length: 100_001 }, (_, i) => ({ path: i, sha256: null })) };
    const res = await call('POST', PATHS.adminReleases, manifest);
    expect(res.status).toBe(400);
    expect(res.json.error.details.problems).toEqual(['assets: must hold at most 100000 items, got 100001']);
  });
});

describe('publish: races', () => {
  it('two publishes of one release id for different apps, or with different workers, at once: one is 201, the other 409 release_conflict, never a 200 for a release that is not its own', async () => {
    for (let round = 0; round < 5; round++) {
      // The id covers paths, hashes, the entry and sw.js, not the app: two apps can send one id.
      const a = await fakeDist({ 'index.html': `<h1>race ${round}</h1>` }, { app: 'race-a', sw: 'self.race=1' });
      const b = { ...a.manifest, app: 'race-b' };
      // An id of the files only (before protocol 0.6) sent with two different workers.
      const legacy = await fakeDist({ 'index.html': `<h1>legacy race ${round}</h1>` }, { app: 'race-a', sw: 'self.one=1', legacyId: true });
      const other = await fakeDist({ 'index.html': `<h1>legacy race ${round}</h1>` }, { app: 'race-a', sw: 'self.two=2', legacyId: true });
      expect(other.manifest.id).toBe(legacy.manifest.id);
      for (const d of [a, legacy, other]) {
        for (const part of [...d.manifest.assets, d.manifest.sw!]) expect((await call('PUT', PATHS.adminBlob(part.sha256), d.files.get(part.path)!)).status).toBe(201);
      }
      for (const [one, two] of [[a.manifest, b], [legacy.manifest, other.manifest]] as const) {
        const answers = await Promise.all([call('POST', PATHS.adminReleases, one), call('POST', PATHS.adminReleases, two)]);
        expect(answers.map((x) => x.status).sort()).toEqual([201, 409]);
        const refused = answers.find((x) => x.status === 409)!;
        expect(refused.json.error.code).toBe('release_conflict');
        // And the stored release is the one that was answered 201.
        const stored = (await store.getRelease(one.id))!.manifest;
        expect(stored).toEqual(answers[0]!.status === 201 ? one : two);
      }
    }
  });
});
