import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { computeReleaseId, PATHS, type ChannelState, type CheckInResponse, type FetchTask, type StatusResponse } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';
const NOW = 1_700_000_000_000;

function setup(o: Partial<UpdateServerOptions> = {}, dir = mkdtempSync(join(tmpdir(), 'updraft-app-'))) {
  const { store } = tempStore({ dir });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const app = createUpdateServer({ store, blobs, token: TOKEN, now: () => NOW, ...o });
  const admin = (method: string, path: string, body?: unknown, target: Hono = app, prefix = '/') =>
    target.request(prefix + path, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}` },
      ...(body === undefined ? {} : { body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) }),
    });
  const publish = async (dist: FakeDist, channel?: { percent?: number }) => {
    for (const [, bytes] of dist.files) {
      const sha = [...dist.manifest.assets, ...(dist.manifest.sw ? [dist.manifest.sw] : [])].find((a) => dist.files.get(a.path) === bytes)!.sha256;
      expect((await admin('PUT', PATHS.adminBlob(sha), bytes)).status).toBe(201);
    }
    const res = await admin('POST', PATHS.adminReleases, dist.manifest);
    expect(res.status).toBe(201);
    if (channel) expect((await admin('PUT', PATHS.adminChannel('stable'), { release: dist.manifest.id, ...channel })).status).toBe(200);
  };
  const checkIn = (body: unknown, target: Hono = app, url = `http://localhost/${PATHS.checkIn}`) =>
    target.request(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { dir, app, store, blobs, admin, publish, checkIn };
}

const v1 = () => fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)', 'assets/style.css': 'body{}' }, { version: '1', sw: 'self.x=1' });
const v2 = () => fakeDist({ 'index.html': '<h1>v2</h1>', 'assets/app-2.js': 'console.log(2)', 'assets/style.css': 'body{}' }, { version: '2', sw: 'self.x=1' });
const client = (release: string | null, o: object = {}) => ({
  client: 'client-abc-123', app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true }, ...o,
});
const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('publish', () => {
  it('missing parts → 409 with the list, then upload → 201, republish → 200 created:false', async () => {
    const { admin, publish } = setup();
    const d = await v1();
    const res = await admin('POST', PATHS.adminReleases, d.manifest);
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; details: { missing: string[] } } };
    expect(body.error.code).toBe('missing_parts');
    expect(body.error.details.missing).toHaveLength(4); // 3 assets + sw
    const missing = await admin('POST', PATHS.adminMissingBlobs, { sha256s: d.manifest.assets.map((a) => a.sha256) });
    expect(((await missing.json()) as { missing: string[] }).missing).toHaveLength(3);

    await publish(d);
    const again = await admin('POST', PATHS.adminReleases, d.manifest);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ id: d.manifest.id, seq: 1, created: false, version: d.manifest.version });
    const d2 = await v2();
    // The shared stylesheet and sw are already there.
    const m2 = await admin('POST', PATHS.adminMissingBlobs, { sha256s: [...d2.manifest.assets, d2.manifest.sw!].map((a) => a.sha256) });
    expect(((await m2.json()) as { missing: string[] }).missing).toHaveLength(2);
  });

  it('hash mismatch upload → 400 hash_mismatch, nothing stored', async () => {
    const { admin } = setup();
    const res = await admin('PUT', PATHS.adminBlob('a'.repeat(64)), new TextEncoder().encode('not that'));
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('hash_mismatch');
    const missing = await admin('POST', PATHS.adminMissingBlobs, { sha256s: ['a'.repeat(64)] });
    expect(await missing.json()).toEqual({ missing: ['a'.repeat(64)] });
    expect(await code(await admin('PUT', PATHS.adminBlob('nothex'), new Uint8Array(1)))).toBe('invalid_hash');
  });

  it('rejects inconsistent manifests and invalid JSON', async () => {
    const { admin } = setup();
    const d = await v1();
    expect(await code(await admin('POST', PATHS.adminReleases, { ...d.manifest, id: '0123456789abcdef' }))).toBe('invalid_body');
    expect(await code(await admin('POST', PATHS.adminReleases, { ...d.manifest, entry: 'nope.html' }))).toBe('invalid_body');
    const res = await admin('POST', PATHS.adminReleases, undefined);
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('invalid_json');
  });

  it('channel update: unknown release 404, wrong app 400, previous tracked', async () => {
    const { admin, publish } = setup();
    const [d1, d2] = [await v1(), await v2()];
    await publish(d1, {});
    await publish(d2);
    expect(await code(await admin('PUT', PATHS.adminChannel('stable'), { release: 'ffffffffffffffff' }))).toBe('unknown_release');
    expect(await code(await admin('PUT', `${PATHS.adminChannel('stable')}?app=other`, { release: d2.manifest.id }))).toBe('bad_request');
    expect(await code(await admin('PUT', PATHS.adminChannel('stable'), { release: d2.manifest.id, percent: 101 }))).toBe('invalid_body');
    // An array is no update (valibot's object schema takes one, and every field here is optional):
    // a 400, not a silent no-op 200 that a script sending the wrong shape would take for success.
    for (const body of [[], [{ paused: true }]]) {
      const arr = await admin('PUT', PATHS.adminChannel('stable'), body);
      expect(arr.status).toBe(400);
      expect(await code(arr)).toBe('invalid_body');
    }
    const res = await admin('PUT', `${PATHS.adminChannel('stable')}?app=demo`, { release: d2.manifest.id, percent: 25, activation: 'prompt' });
    expect(await res.json()).toEqual({
      name: 'stable', app: 'demo', release: d2.manifest.id, previous: d1.manifest.id, percent: 25, activation: 'prompt',
      paused: false, pausedReason: null, minimum: null, sampleSince: NOW, updatedAt: NOW,
    } satisfies ChannelState);
  });
});

describe('release ids that cover sw.js (protocol 0.6)', () => {
  // The same app files as v1 with another worker: a key rotation's build, another plugin option.
  const v1Worker2 = () => fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)', 'assets/style.css': 'body{}' }, { version: '1', sw: 'self.x=2' });
  /** A worker before 0.6: its check-in says no `swIds`. */
  const oldWorker = (release: string | null, o: object = {}) => client(release, { caps: { sync: true, periodicSync: false, compactPlans: true, planRefs: true }, ...o });
  const answer = async (res: Response) => (await res.json()) as CheckInResponse;

  it('a build whose only change is its worker is another release: published (201, no 409), /sw.js serves it, and a worker that says swIds is offered it with nothing to fetch', async () => {
    const { admin, app, store, publish, checkIn } = setup();
    const d = await v1();
    await publish(d, { percent: 100 });
    const w2 = await v1Worker2();
    expect(w2.manifest.id).not.toBe(d.manifest.id);
    await publish(w2, { percent: 100 });
    expect((await store.getRelease(w2.manifest.id))!.idCoversSw).toBe(true);
    expect(await (await app.request('/sw.js')).text()).toBe('self.x=2');
    const a = await answer(await checkIn(client(d.manifest.id)));
    expect(a.status).toBe('update');
    if (a.status !== 'update') return;
    expect(a.plan.to).toBe(w2.manifest.id);
    expect(a.plan.tasks.filter((t) => t.kind === 'fetch')).toEqual([]);
    // The same build again is still not an error.
    expect((await admin('POST', PATHS.adminReleases, w2.manifest)).status).toBe(200);
  });

  it('a worker before 0.6 is not offered a release whose id covers sw.js: current (its browser gets that release\'s worker at /sw.js), then, checking in with swIds, the plan', async () => {
    const { app, publish, checkIn } = setup();
    const old = await fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)' }, { version: '1', sw: 'self.old=1', legacyId: true });
    await publish(old, { percent: 100 });
    const d = await v2();
    await publish(d, { percent: 100 });
    const held = await answer(await checkIn(oldWorker(old.manifest.id)));
    expect(held.status).toBe('current');
    expect('drop' in held).toBe(false);
    // Nor on a first install (it would refuse that manifest too).
    expect((await answer(await checkIn(oldWorker(null)))).status).toBe('current');
    // What its browser fetches at its next navigation: the worker that says swIds.
    expect(await (await app.request('/sw.js')).text()).toBe('self.x=1');
    const a = await answer(await checkIn(client(old.manifest.id)));
    expect(a.status === 'update' && a.plan.to).toBe(d.manifest.id);
  });

  it('a release whose id covers the app\'s files only (published before 0.6) is offered to every worker, rolled back to included', async () => {
    const { admin, publish, checkIn } = setup();
    const old = await fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)' }, { version: '1', sw: 'self.old=1', legacyId: true });
    const d = await v2();
    await publish(old, { percent: 100 });
    await publish(d, { percent: 100 });
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: old.manifest.id })).status).toBe(200);
    for (const body of [oldWorker(d.manifest.id), client(d.manifest.id)]) {
      const a = await answer(await checkIn(body));
      expect(a.status === 'update' && [a.plan.to, a.plan.rollback]).toEqual([old.manifest.id, true]);
    }
  });

  it('an id of the app\'s files only, published as it is (again: 200); sent with another sw.js → 409 release_conflict, the release keeps its own', async () => {
    const { admin, store } = setup();
    const old = await v1();
    const legacy = { ...old.manifest, id: await computeReleaseId(old.manifest.assets, old.manifest.entry) };
    for (const a of [...legacy.assets, legacy.sw!]) {
      expect((await admin('PUT', PATHS.adminBlob(a.sha256), old.files.get(a.path))).status).toBe(201);
    }
    expect((await admin('POST', PATHS.adminReleases, legacy)).status).toBe(201);
    expect((await admin('POST', PATHS.adminReleases, legacy)).status).toBe(200);
    expect((await store.getRelease(legacy.id))!.idCoversSw).toBe(false);
    const other = await v1Worker2();
    expect((await admin('PUT', PATHS.adminBlob(other.manifest.sw!.sha256), other.files.get('sw.js'))).status).toBe(201);
    const res = await admin('POST', PATHS.adminReleases, { ...legacy, sw: other.manifest.sw });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('release_conflict');
    expect(body.error.message).toContain(`release ${legacy.id} is already published with another sw.js`);
    expect((await store.getRelease(legacy.id))!.manifest.sw!.sha256).toBe(legacy.sw!.sha256);
  });

  it('a partial rollout of such a release over an older-form one: /sw.js serves the target\'s worker, the pages and manifest stay the fallback\'s; paused or at 0 %, the fallback\'s worker', async () => {
    const { admin, app, publish } = setup();
    const old = await fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)' }, { version: '1', sw: 'self.old=1', legacyId: true });
    const d = await v2();
    await publish(old, { percent: 100 });
    await publish(d, { percent: 10 });
    const served = async () => ({
      sw: await (await app.request('/sw.js')).text(),
      page: await (await app.request('/')).text(),
      manifest: ((await (await app.request('/updraft-release.json')).json()) as { id: string }).id,
    });
    // Every old worker must be able to become one that is offered the target; the app files follow the percentage.
    expect(await served()).toEqual({ sw: 'self.x=1', page: '<h1>v1</h1>', manifest: old.manifest.id });
    const channel = async (update: object) => expect((await admin('PUT', PATHS.adminChannel('stable'), update)).status).toBe(200);
    await channel({ paused: true });
    expect(await served()).toEqual({ sw: 'self.old=1', page: '<h1>v1</h1>', manifest: old.manifest.id });
    await channel({ paused: false, percent: 0 });
    expect((await served()).sw).toBe('self.old=1');
    await channel({ percent: 100 });
    expect(await served()).toEqual({ sw: 'self.x=1', page: '<h1>v2</h1>', manifest: d.manifest.id });
    // Both forms new: the fallback's own worker already takes the target, so it is the one served.
    const d3 = await fakeDist({ 'index.html': '<h1>v3</h1>' }, { version: '3', sw: 'self.x=3' });
    await publish(d3, { percent: 10 });
    expect(await served()).toEqual({ sw: 'self.x=1', page: '<h1>v2</h1>', manifest: d.manifest.id });
  });
});

describe('admin auth', () => {
  it.each([
    ['no header', {}],
    ['wrong token', { Authorization: 'Bearer nope' }],
    ['not bearer', { Authorization: `Basic ${TOKEN}` }],
  ])('%s → 401 unauthorized', async (_, headers) => {
    const { app } = setup();
    const res = await app.request(`/${PATHS.adminStatus}`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
    expect(await code(res)).toBe('unauthorized');
  });

  it('no token configured → admin is closed', async () => {
    const { admin } = setup({ token: undefined });
    expect((await admin('GET', PATHS.adminStatus)).status).toBe(401);
  });
});

describe('check-in', () => {
  it('validation errors are 400 with a code, never 500', async () => {
    const { checkIn } = setup();
    const bad: [unknown, string][] = [
      ['{not json', 'invalid_json'],
      ['', 'invalid_json'],
      [null, 'invalid_body'],
      [[], 'invalid_body'],
      [{ ...client(null), client: 'short' }, 'invalid_body'],
      [{ ...client('nothex') }, 'invalid_body'],
      [{ ...client(null), caps: undefined }, 'invalid_body'],
    ];
    for (const [body, expected] of bad) {
      const res = await checkIn(typeof body === 'string' ? body : JSON.stringify(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await code(res)).toBe(expected);
    }
  });

  it('body over the limit → 413 body_too_large', async () => {
    const { app } = setup({ bodyLimit: 100 });
    const res = await app.request(`/${PATHS.checkIn}`, { method: 'POST', body: JSON.stringify(client(null, { pad: 'x'.repeat(200) })) });
    expect(res.status).toBe(413);
    expect(await code(res)).toBe('body_too_large');
  });

  it('gives an update plan listing only the parts the client lacks, then current', async () => {
    const { publish, checkIn, store } = setup({ cdn: ['https://cdn.test/u'] });
    const [d1, d2] = [await v1(), await v2()];
    await publish(d1, {});
    await publish(d2, {});
    const res = await checkIn(client(d1.manifest.id));
    expect(res.status).toBe(200);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    const body = (await res.json()) as CheckInResponse;
    if (body.status !== 'update') throw new Error('expected update');
    const fetches = body.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch');
    expect(fetches.map((t) => t.sha256).sort()).toEqual(
      d2.manifest.assets.filter((a) => a.path !== 'assets/style.css').map((a) => a.sha256).sort(),
    );
    expect(fetches[0]!.sources).toEqual([`https://cdn.test/u/v1/blobs/${fetches[0]!.sha256}`, `http://localhost/v1/blobs/${fetches[0]!.sha256}`]);
    expect(body.plan).toMatchObject({ from: d1.manifest.id, to: d2.manifest.id, toSeq: 2, issuedAt: NOW });
    expect(await store.countClients()).toEqual([{ channel: 'stable', release: d1.manifest.id, count: 1 }]);

    expect(await (await checkIn(client(d2.manifest.id))).json()).toEqual({ status: 'current', nextCheckIn: 3600, recorded: expect.stringMatching(/^[0-9a-z]{1,16}$/) });
    expect(await (await checkIn(client(null, { channel: 'beta' }))).json()).toEqual({ status: 'current', nextCheckIn: 3600, recorded: expect.stringMatching(/^[0-9a-z]{1,16}$/) });
  });

  it('percent 0 keeps clients on previous', async () => {
    const { publish, checkIn } = setup();
    const [d1, d2] = [await v1(), await v2()];
    await publish(d1, {});
    await publish(d2, { percent: 0 });
    expect(((await (await checkIn(client(d1.manifest.id))).json()) as CheckInResponse).status).toBe('current');
    const fresh = (await (await checkIn(client(null))).json()) as CheckInResponse;
    expect(fresh.status === 'update' && fresh.plan.to).toBe(d1.manifest.id);
  });

  it('answers CORS preflight', async () => {
    const { app } = setup();
    const res = await app.request(`/${PATHS.checkIn}`, {
      method: 'OPTIONS', headers: { Origin: 'https://app.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Allow-Methods')).toContain('POST');
  });

  it('mounted under a prefix, sources carry the prefix; publicUrl overrides', async () => {
    const { publish, checkIn, store, blobs } = setup();
    const [d1, d2] = [await v1(), await v2()];
    await publish(d1, {});
    await publish(d2, {});
    const parent = new Hono().route('/updraft', createUpdateServer({ store, blobs, token: TOKEN, now: () => NOW }));
    const res = await checkIn(client(d1.manifest.id), parent, `http://example.test/updraft/${PATHS.checkIn}`);
    const body = (await res.json()) as CheckInResponse;
    const source = body.status === 'update' ? (body.plan.tasks[0] as FetchTask).sources[0]! : '';
    expect(source).toMatch(/^http:\/\/example\.test\/updraft\/v1\/blobs\/[0-9a-f]{64}$/);
    const blob = await parent.request(source);
    expect(blob.status).toBe(200);
    expect(await (await parent.request('http://example.test/updraft/v1/nope')).json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await parent.request('http://example.test/updraft/')).status).toBe(200);

    const fixed = createUpdateServer({ store, blobs, publicUrl: 'https://pub.test/u', now: () => NOW });
    const b2 = (await (await checkIn(client(d1.manifest.id), fixed)).json()) as CheckInResponse;
    expect(b2.status === 'update' && (b2.plan.tasks[0] as FetchTask).sources[0]).toMatch(/^https:\/\/pub\.test\/u\/v1\/blobs\//);
  });
});

describe('reports and status', () => {
  it('stores reports (202) and shows them in status', async () => {
    const { app, admin, publish, checkIn } = setup();
    const d1 = await v1();
    await publish(d1, {});
    await checkIn(client(null));
    const reports = [
      { client: 'client-abc-123', app: 'demo', release: d1.manifest.id, event: 'downloaded', at: 1 },
      { client: 'client-abc-123', app: 'demo', release: d1.manifest.id, event: 'failed', code: 'quota', at: 2 },
    ];
    const res = await app.request(`/${PATHS.reports}`, { method: 'POST', body: JSON.stringify({ reports }) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2 });
    expect((await app.request(`/${PATHS.reports}`, { method: 'POST', body: JSON.stringify({ reports: [{ ...reports[0], code: 'made_up' }] }) })).status).toBe(400);
    const status = (await (await admin('GET', PATHS.adminStatus)).json()) as StatusResponse;
    // index.html, two assets and sw.js, as publish counts them.
    expect(status.releases).toEqual([expect.objectContaining({ id: d1.manifest.id, seq: 1, parts: 4 })]);
    expect(status.channels).toHaveLength(1);
    expect(status.clients).toEqual([{ channel: 'stable', release: null, count: 1 }]);
    expect(status.reportCounts).toEqual([
      { release: d1.manifest.id, event: 'downloaded', code: null, count: 1 },
      { release: d1.manifest.id, event: 'failed', code: 'quota', count: 1 },
    ]);
    expect(status.recentReports[0]).toMatchObject({ event: 'failed', code: 'quota' });
  });

  it('release manifests are public', async () => {
    const { app, publish } = setup();
    const d1 = await v1();
    await publish(d1);
    expect(await (await app.request(`/${PATHS.release(d1.manifest.id)}`)).json()).toEqual(d1.manifest);
    expect(await code(await app.request(`/${PATHS.release('ffffffffffffffff')}`))).toBe('unknown_release');
  });

  it('survives a restart: same data dir, new store', async () => {
    const first = setup();
    const d1 = await v1();
    await first.publish(d1, {});
    await first.store.close();
    const second = setup({}, first.dir);
    const body = (await (await second.checkIn(client(null))).json()) as CheckInResponse;
    expect(body.status === 'update' && body.plan.to).toBe(d1.manifest.id);
    expect((await second.app.request('/assets/app-1.js')).status).toBe(200);
  });
});
