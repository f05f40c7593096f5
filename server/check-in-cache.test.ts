import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS, type CheckInResponse, type FetchTask } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { CheckInCache, UNKNOWN_CHANNELS_KEPT } from './check-in-cache.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import type { UpdateServerOptions } from './options.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

const TOKEN = 't';
const NOW = 1_700_000_000_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A SQLite store with one release on `demo/stable`. */
async function oneChannel() {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-cache-'));
  const sqlite = openSqliteStore(dir);
  cleanups.push(() => sqlite.close(), () => rmSync(dir, { recursive: true, force: true }));
  const r = (await fakeDist({ 'index.html': 'x' })).manifest;
  await sqlite.insertRelease(r, 1);
  await sqlite.putChannel('demo', 'stable', { release: r.id }, 1);
  return { sqlite, r };
}

async function setup(o: Partial<UpdateServerOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-cache-'));
  const store = openSqliteStore(dir);
  cleanups.push(() => store.close(), () => rmSync(dir, { recursive: true, force: true }));
  const blobs = new BlobStore(join(dir, 'blobs'));
  const app = createUpdateServer({ store, blobs, token: TOKEN, now: () => NOW, ...o });
  const admin = (method: string, path: string, body: unknown) =>
    app.request(`/${path}`, { method, headers: { Authorization: `Bearer ${TOKEN}` }, body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) });
  const publish = async (d: FakeDist) => {
    for (const a of [...d.manifest.assets, ...(d.manifest.sw ? [d.manifest.sw] : [])]) await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!);
    expect((await admin('POST', PATHS.adminReleases, d.manifest)).status).toBe(201);
  };
  const checkIn = async (release: string | null, client = 'client-abc-123') =>
    (await (await app.request(`http://localhost/${PATHS.checkIn}`, {
      method: 'POST', body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }),
    })).json()) as CheckInResponse;
  const [d1, d2] = [
    await fakeDist({ 'index.html': '1', 'a.js': 'a1', 'big.bin': 'x'.repeat(4000) }, { version: '1' }),
    await fakeDist({ 'index.html': '2', 'a.js': 'a2', 'big.bin': 'y'.repeat(4000) }, { version: '2' }),
  ];
  await publish(d1);
  await publish(d2);
  return { store, admin, checkIn, d1: d1.manifest.id, d2: d2.manifest.id };
}

describe('check-in cache', () => {
  it('a channel change through the admin API is answered by the very next check-in', async () => {
    const { admin, checkIn, d1, d2 } = await setup();
    await admin('PUT', PATHS.adminChannel('stable'), { release: d1 });
    expect((await checkIn(d1)).status).toBe('current');
    await admin('PUT', PATHS.adminChannel('stable'), { release: d2, percent: 0 });
    expect((await checkIn(d1)).status).toBe('current');
    await admin('PUT', PATHS.adminChannel('stable'), { release: d2, percent: 100 });
    const d = await checkIn(d1);
    expect(d.status === 'update' && d.plan.to).toBe(d2);
    await admin('PUT', PATHS.adminChannel('stable'), { release: d1 }); // roll back
    expect((await checkIn(d1)).status).toBe('current');
  });

  it('a change written to the store directly is seen at once through its change counter', async () => {
    const { store, checkIn, d1, d2 } = await setup();
    await store.putChannel('demo', 'stable', { release: d1 }, 1);
    expect((await checkIn(d1)).status).toBe('current');
    const before = store.changeCounter();
    await store.putChannel('demo', 'stable', { release: d2 }, 2);
    expect(store.changeCounter()).toBe(before + 1);
    expect((await checkIn(d1)).status).toBe('update');
  });

  it('reads the store once per channel and template, not once per check-in', async () => {
    const { store, checkIn, d1, d2 } = await setup();
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    const calls = { channel: 0, release: 0 };
    const getChannel = store.getChannel.bind(store);
    const getRelease = store.getRelease.bind(store);
    store.getChannel = (...a) => (calls.channel++, getChannel(...a));
    store.getRelease = (...a) => (calls.release++, getRelease(...a));
    const answers = [];
    for (let i = 0; i < 50; i++) answers.push(await checkIn(i % 2 ? d1 : d2, `client-${String(i).padStart(4, '0')}`));
    expect(calls).toEqual({ channel: 1, release: 2 }); // channel + its release + previous (none) + d1 as a `from`
    // Per-client parts differ, the shared part does not.
    const updates = answers.filter((a) => a.status === 'update');
    expect(updates).toHaveLength(25);
    expect(new Set(updates.map((u) => u.status === 'update' && u.plan.planId)).size).toBe(25);
    expect(new Set(updates.map((u) => JSON.stringify(u.status === 'update' && u.plan.release))).size).toBe(1);
  });
});

describe('CheckInCache without a change counter', () => {
  it('serves a cached channel for maxAgeMs, then reads it again; invalidate() drops it at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'updraft-cache-'));
    const sqlite = openSqliteStore(dir);
    cleanups.push(() => sqlite.close(), () => rmSync(dir, { recursive: true, force: true }));
    const r = (await fakeDist({ 'index.html': 'x' })).manifest;
    await sqlite.insertRelease(r, 1);
    await sqlite.putChannel('demo', 'stable', { release: r.id, percent: 10 }, 1);
    let reads = 0;
    // Only what the cache uses, and no changeCounter: a store shared with other processes.
    const store = { getChannel: (a: string, n: string) => (reads++, sqlite.getChannel(a, n)), getRelease: (id: string) => sqlite.getRelease(id) } as unknown as Store;
    let clock = 0;
    const cache = new CheckInCache({ store, maxAgeMs: 1000, clock: () => clock });
    const percent = async () => (await cache.channel('demo', 'stable')).channel?.percent;
    expect(await percent()).toBe(10);
    await sqlite.putChannel('demo', 'stable', { release: r.id, percent: 50 }, 2);
    clock = 999;
    expect(await percent()).toBe(10);
    clock = 1000;
    expect(await percent()).toBe(50);
    await sqlite.putChannel('demo', 'stable', { release: r.id, percent: 70 }, 3);
    cache.invalidate();
    expect(await percent()).toBe(70);
    expect(reads).toBe(3);
  });

  it('invalidateApp drops that app\'s channels only (a delta landed for one of its releases)', async () => {
    const { sqlite, r } = await oneChannel();
    const other = (await fakeDist({ 'index.html': 'y' }, { app: 'other' })).manifest;
    await sqlite.insertRelease(other, 1);
    await sqlite.putChannel('other', 'stable', { release: other.id }, 1);
    const cache = new CheckInCache({ store: sqlite, maxAgeMs: 60_000 });
    const [demo, kept] = [await cache.channel('demo', 'stable'), await cache.channel('other', 'stable')];
    expect(demo.channel?.release).toBe(r.id);
    cache.invalidateApp('demo');
    // Read again (a Promise: a miss), while the other app's entry is answered from memory.
    const again = cache.channel('demo', 'stable');
    expect(again instanceof Promise).toBe(true);
    expect(await again).not.toBe(demo);
    expect(cache.channel('other', 'stable')).toBe(kept);
  });

  it('concurrent misses share one read; client-supplied unknown releases never grow it past maxTemplates', async () => {
    const { sqlite, r } = await oneChannel();
    const cache = new CheckInCache({ store: sqlite, maxTemplates: 8 });
    const [a, b] = [cache.channel('demo', 'stable'), cache.channel('demo', 'stable')];
    expect(a).toBe(b);
    const entry = await a;
    for (let i = 0; i < 100; i++) await cache.template(entry, i.toString(16).padStart(16, '0'), r.id, 'https://o.test/', []);
    expect(entry.templates.size).toBeLessThanOrEqual(8);
    expect(entry.releases.size).toBeLessThanOrEqual(9);
  });

  it('templates rendered for many origins (a Host per request) never grow it past maxTemplateBytes', async () => {
    const { store, d1, d2 } = await setup();
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    // What one template of d1 → d2 holds, measured on a cache of its own.
    const probe = new CheckInCache({ store });
    const one = await probe.channel('demo', 'stable');
    await probe.template(one, d1, d2, 'https://o0.test/', []);
    const cache = new CheckInCache({ store, maxTemplateBytes: 3 * one.templateBytes });
    expect(one.templateBytes).toBeGreaterThan(0);
    const entry = await cache.channel('demo', 'stable');
    for (let i = 0; i < 50; i++) {
      const t = await cache.template(entry, d1, d2, `https://o${i}.test/`, []);
      expect(t?.template.fetches[0]?.sources[0]).toMatch(new RegExp(`^https://o${i}\\.test/`));
      // Within the budget, plus the one template that crossed it.
      expect(entry.templateBytes).toBeLessThanOrEqual(4 * one.templateBytes);
      expect(entry.templates.size).toBeLessThanOrEqual(4);
    }
  });

  it('client-supplied channel names that do not exist never grow it past UNKNOWN_CHANNELS_KEPT, and real channels stay cached', async () => {
    const { sqlite, r } = await oneChannel();
    const cache = new CheckInCache({ store: sqlite, maxAgeMs: 60_000 });
    const stable = await cache.channel('demo', 'stable');
    for (let i = 0; i < UNKNOWN_CHANNELS_KEPT * 3; i++) expect((await cache.channel('demo', `made-up-${i}`)).channel).toBeNull();
    expect(cache.size).toBe(UNKNOWN_CHANNELS_KEPT + 1);
    // The real channel was not pushed out; the newest made-up name is still answered from memory.
    expect(cache.channel('demo', 'stable')).toBe(stable);
    const newest = cache.channel('demo', `made-up-${UNKNOWN_CHANNELS_KEPT * 3 - 1}`);
    expect(newest instanceof Promise).toBe(false);
  });

  it('the last template found answers a repeat of its key, and only of its key', async () => {
    const { store, d1, d2 } = await setup();
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    const cache = new CheckInCache({ store });
    const entry = await cache.channel('demo', 'stable');
    const find = async (from: string | null, origin = 'https://o.test/') => (await cache.template(entry, from, d2, origin, []))!.template;
    const [fromD1, first, other] = [await find(d1), await find(null), await find(d1, 'https://p.test/')];
    // Each lookup after another key gets its own template, from the memo or the map.
    for (const [from, origin, want] of [[d1, 'https://o.test/', fromD1], [d1, 'https://o.test/', fromD1], [null, 'https://o.test/', first], [d1, 'https://p.test/', other], [d1, 'https://o.test/', fromD1], [null, 'https://o.test/', first]] as const) {
      const t = await find(from, origin);
      expect(t).toBe(want);
      expect([t.from, t.fetches[0]!.sources[0]!.startsWith(origin)]).toEqual([from, true]);
    }
    expect([fromD1.releasePatch !== null, first.releasePatch]).toEqual([true, null]);
  });
});

describe('check-in with a capacity budget', () => {
  it('books slots under the budget, and a client checking in again keeps its slots', async () => {
    const { store, checkIn, d1, d2 } = await setup({ capacity: { origin: { bytesPerSecond: 4000 } } });
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    const slots = async (client: string) => {
      const d = await checkIn(d1, client);
      if (d.status !== 'update') throw new Error('expected update');
      return d.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch').map((t) => [t.size, t.notBefore - NOW] as const);
    };
    const first = await slots('client-0001');
    const second = await slots('client-0002');
    expect(await slots('client-0001')).toEqual(first);
    // Each client needs ~4 KB: at 4000 B/s × 0.96 the second one starts about a second after the first.
    const start = (s: readonly (readonly [number, number])[]) => Math.min(...s.map(([, t]) => t));
    expect(start(first)).toBe(0);
    expect(start(second)).toBeGreaterThanOrEqual(1000);
    expect(start(second)).toBeLessThan(1200);
  });

  it('a client whose plan the budget cannot serve before the plan expires is told to check in later, and gets its plan once there is room', async () => {
    let now = NOW;
    const { store, checkIn, d1, d2 } = await setup({ capacity: { origin: { bytesPerSecond: 4000 } }, planTtlMs: 5000, now: () => now });
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    const answers: CheckInResponse[] = [];
    for (let i = 0; i < 6; i++) answers.push(await checkIn(d1, `client-${String(i).padStart(4, '0')}`));
    // ~4 KB each at 3840 B/s: four are through within the plan's 5 s; the others would start later
    // than their plan lives (a worker drops an expired plan), so they get no slot, nor a plan.
    expect(answers.map((a) => a.status)).toEqual(['update', 'update', 'update', 'update', 'current', 'current']);
    for (const a of answers) {
      if (a.status !== 'update') continue;
      for (const t of a.plan.tasks) if (t.kind === 'fetch') expect(t.notBefore).toBeLessThan(a.plan.expiresAt);
    }
    // Those booked keep their slots; the budget moves on with the clock.
    expect(await checkIn(d1, 'client-0000')).toEqual(answers[0]);
    now += 2000;
    const later = await checkIn(d1, 'client-0004');
    expect(later.status).toBe('update');
  });

  it('a client put late by the spread gets no slot past its plan\'s expiry either', async () => {
    const { store, checkIn, d1, d2 } = await setup({ capacity: { origin: { bytesPerSecond: 4000 } }, planTtlMs: 5000, spreadMs: 2500 });
    await store.putChannel('demo', 'stable', { release: d2 }, 1);
    let updates = 0;
    for (let i = 0; i < 12; i++) {
      const a = await checkIn(d1, `client-late-${i}`);
      if (a.status !== 'update') continue;
      updates++;
      // A worker drops an expired plan: a fetch it may start only after that would never run.
      for (const t of a.plan.tasks) if (t.kind === 'fetch') expect(t.notBefore).toBeLessThan(a.plan.expiresAt);
    }
    expect(updates).toBeGreaterThan(0);
  });

  it('a spread wider than half a plan\'s life is refused: the clients it puts late would get plans that expire before their downloads may start', async () => {
    // This setup used to start, and the clients past the plan's 5 s got plans whose every fetch
    // began after their expiresAt: a worker drops such a plan (`plan_expired`, a failure the
    // automatic pause counts) before any download. resolveOptions now refuses it (options.ts `maxSpreadMs`).
    await expect(setup({ capacity: { origin: { bytesPerSecond: 4000 } }, planTtlMs: 5000, spreadMs: 600_000 }))
      .rejects.toThrow(new TypeError('spreadMs must be an integer in [0, 2500] (at most half planTtlMs), got 600000'));
  });
});
