import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { jitteredSeconds } from './load-shedding.js';
import { startServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store with one stored blob of `size` bytes. */
async function setup(size = 64 * 1024) {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-shed-'));
  dirs.push(dir);
  const store = openSqliteStore(dir);
  stores.push(store);
  const blobs = new BlobStore(join(dir, 'blobs'));
  const bytes = new Uint8Array(size).map((_, i) => i % 253);
  const sha = createHash('sha256').update(bytes).digest('hex');
  await blobs.write(sha, [bytes] as unknown as AsyncIterable<Uint8Array>);
  await store.putBlob(sha, size);
  const app = (o: Partial<UpdateServerOptions>) => createUpdateServer({ store, blobs, serve: false, ...o });
  return { dir, store, blobs, sha, bytes, app };
}

const checkIn = (client: string) => ({
  method: 'POST',
  body: JSON.stringify({ client, app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, swIds: true } }),
});
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('jitteredSeconds', () => {
  it('spreads over [base, 2 × base] in whole seconds, at least 1', () => {
    expect(jitteredSeconds(5, () => 0)).toBe(5);
    expect(jitteredSeconds(5, () => 0.5)).toBe(8);
    expect(jitteredSeconds(5, () => 0.999)).toBe(10);
    expect(jitteredSeconds(0, () => 0.3)).toBe(1);
  });

  it('gives every whole second of [base, 2 × base] its share, base itself included', () => {
    const seen = (base: number) => {
      const counts = new Map<number, number>();
      for (let i = 0; i < 1000; i++) {
        const s = jitteredSeconds(base, () => i / 1000);
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
      return [...counts].sort((a, b) => a[0] - b[0]);
    };
    // A base of 1 used to send every refused client back after exactly 2 s: one wave again.
    expect(seen(1)).toEqual([[1, 500], [2, 500]]);
    expect(seen(3)).toEqual([[3, 250], [4, 250], [5, 250], [6, 250]]);
    expect(seen(2.5).map(([s]) => s)).toEqual([3, 4, 5]);
  });
});

describe('in-flight limit (503 overloaded)', () => {
  it('refuses a maxInFlight or retryAfter that would never shed or would send a Retry-After no client can read', async () => {
    const { app: make } = await setup();
    // NaN never sheds (`n >= NaN` is false); NaN or 1e21 seconds went out as `Retry-After: NaN` or `1e+21`.
    for (const maxInFlight of [NaN, -1, 1.5]) expect(() => make({ maxInFlight })).toThrow(/maxInFlight must be a non-negative integer/);
    for (const retryAfter of [NaN, -1, Infinity, 1e21, 43_201]) expect(() => make({ retryAfter })).toThrow(/retryAfter must be a number of seconds from 0 to 43200/);
    const app = make({ maxInFlight: 0, retryAfter: 43_200 });
    const res = await app.request(`/${PATHS.checkIn}`, checkIn('client-bounds-01'));
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toMatch(/^\d+$/);
    expect(Number(res.headers.get('Retry-After'))).toBeLessThanOrEqual(86_400);
  });

  it('counts a blob until its body is read or cancelled; beyond maxInFlight check-ins and blobs get 503 with a jittered Retry-After', async () => {
    const { sha, bytes, app: make } = await setup();
    const app = make({ maxInFlight: 2, retryAfter: 5 });
    const blob = () => app.request(`/${PATHS.blob(sha)}`);

    const a = await blob();
    const b = await blob();
    expect([a.status, b.status]).toEqual([200, 200]);
    // Both bodies are unread: two requests still in flight.
    const refused = await blob();
    expect(refused.status).toBe(503);
    expect(await codeOf(refused)).toBe('overloaded');
    const retryAfter = Number(refused.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(5);
    expect(retryAfter).toBeLessThanOrEqual(10);
    // A cross-origin SW must be able to read it.
    expect(refused.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(refused.headers.get('Access-Control-Expose-Headers')).toMatch(/Retry-After/);
    const c = await app.request(`/${PATHS.checkIn}`, checkIn('client-shed-01'));
    expect(c.status).toBe(503);
    expect(await codeOf(c)).toBe('overloaded');
    // Reports and preflights are not shed: they are cheap, and a refused report is lost telemetry.
    expect((await app.request(`/${PATHS.reports}`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await app.request(`/${PATHS.checkIn}`, { method: 'OPTIONS', headers: { Origin: 'http://x', 'Access-Control-Request-Method': 'POST' } })).status).toBe(204);

    // Reading one to the end frees its slot.
    expect(new Uint8Array(await a.arrayBuffer())).toEqual(bytes);
    const d = await app.request(`/${PATHS.checkIn}`, checkIn('client-shed-02'));
    expect(d.status).toBe(200);
    // So does cancelling one (the client went away).
    const e = await blob();
    expect(e.status).toBe(200);
    expect((await blob()).status).toBe(503);
    await e.body!.cancel();
    await b.body!.cancel();
    // HEAD and error answers hold no slot: none leaked, two blobs fit again.
    expect((await app.request(`/${PATHS.blob(sha)}`, { method: 'HEAD' })).status).toBe(200);
    expect((await app.request(`/${PATHS.blob('0'.repeat(64))}`)).status).toBe(404);
    const f = await blob();
    const g = await blob();
    expect([f.status, g.status]).toEqual([200, 200]);
    await Promise.all([f.body!.cancel(), g.body!.cancel()]);
  });

  it('Retry-After values spread so refused clients do not come back together', async () => {
    const { sha, app: make } = await setup();
    const app = make({ maxInFlight: 1, retryAfter: 10 });
    const held = await app.request(`/${PATHS.blob(sha)}`);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const res = await app.request(`/${PATHS.checkIn}`, checkIn(`client-spread-${i}`));
      expect(res.status).toBe(503);
      const s = Number(res.headers.get('Retry-After'));
      expect(s).toBeGreaterThanOrEqual(10);
      expect(s).toBeLessThanOrEqual(20);
      seen.add(s);
      await res.arrayBuffer();
    }
    expect(seen.size).toBeGreaterThanOrEqual(4);
    await held.body!.cancel();
  });

  it('over real HTTP: a slow download holds its slot until the client reads it all or hangs up', async () => {
    // Larger than the socket buffers, so the server cannot finish sending while the client does not read.
    const { dir, sha, store, blobs } = await setup(16 * 1024 * 1024);
    const server = await startServer({ store, blobs, dataDir: dir, maxInFlight: 1, serve: false });
    try {
      const url = new URL(PATHS.blob(sha), server.url);
      const slow = await fetch(url);
      expect(slow.status).toBe(200);
      const refused = await fetch(url);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(5);
      expect(await codeOf(refused)).toBe('overloaded');
      expect((await slow.arrayBuffer()).byteLength).toBe(16 * 1024 * 1024);
      // The server frees the slot when its read of the file ends, just after the last bytes left.
      const next = await vi.waitFor(async () => {
        const res = await fetch(url);
        if (res.status !== 200) await res.arrayBuffer();
        expect(res.status).toBe(200);
        return res;
      }, { timeout: 5000, interval: 20 });
      // Hanging up mid-body frees the slot once the server sees the socket close.
      await next.body!.cancel();
      await vi.waitFor(async () => {
        const res = await fetch(new URL(PATHS.checkIn, server.url), checkIn('client-after-01'));
        await res.arrayBuffer();
        expect(res.status).toBe(200);
      }, { timeout: 5000, interval: 20 });
    } finally {
      await server.close();
    }
  });
});

describe('per-client check-in rate (429 too_many_requests)', () => {
  it('the check-in past max in a window gets 429 with Retry-After to the end of the window; other clients and the next window are fine', async () => {
    let now = 1_700_000_000_000;
    const { app: make } = await setup();
    const app = make({ clientCheckIns: { max: 3, windowMs: 60_000 }, now: () => now });
    for (let i = 0; i < 3; i++) expect((await app.request(`/${PATHS.checkIn}`, checkIn('client-busy-01'))).status).toBe(200);
    // Invalid check-ins name no client and do not count.
    expect((await app.request(`/${PATHS.checkIn}`, { method: 'POST', body: '{"client":"x"}' })).status).toBe(400);
    now += 20_000;
    const res = await app.request(`/${PATHS.checkIn}`, checkIn('client-busy-01'));
    expect(res.status).toBe(429);
    expect(await codeOf(res)).toBe('too_many_requests');
    const retryAfter = Number(res.headers.get('Retry-After'));
    // 40 s of the window are left: never earlier, spread over up to half that again.
    expect(retryAfter).toBeGreaterThanOrEqual(40);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('Access-Control-Expose-Headers')).toMatch(/Retry-After/);
    expect((await app.request(`/${PATHS.checkIn}`, checkIn('client-calm-01'))).status).toBe(200);
    now += 40_000;
    expect((await app.request(`/${PATHS.checkIn}`, checkIn('client-busy-01'))).status).toBe(200);
  });

  it('is on by default and can be turned off', async () => {
    const { app: make } = await setup();
    const on = make({});
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await on.request(`/${PATHS.checkIn}`, checkIn('client-loop-01'))).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.at(-1)).toBe(429);
    const off = make({ clientCheckIns: false });
    for (let i = 0; i < 61; i++) expect((await off.request(`/${PATHS.checkIn}`, checkIn('client-loop-02'))).status).toBe(200);
  });
});

describe('per-client report rate (429 too_many_requests)', () => {
  const report = (client: string) => ({
    method: 'POST',
    body: JSON.stringify({ reports: [{ client, app: 'demo', release: 'a'.repeat(16), event: 'downloaded', at: 1 }] }),
  });

  it('the batch past max in a window gets 429 with Retry-After and nothing is stored; other clients and the next window are fine', async () => {
    let now = 1_700_000_000_000;
    const { app: make, store } = await setup();
    const app = make({ clientReports: { max: 2, windowMs: 30_000 }, now: () => now });
    for (let i = 0; i < 2; i++) expect((await app.request(`/${PATHS.reports}`, report('client-loop-01'))).status).toBe(202);
    now += 10_000;
    const res = await app.request(`/${PATHS.reports}`, report('client-loop-01'));
    expect(res.status).toBe(429);
    expect(await codeOf(res)).toBe('too_many_requests');
    const retryAfter = Number(res.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(20);
    expect(retryAfter).toBeLessThanOrEqual(30);
    // A cross-origin SW must be able to read the Retry-After.
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Expose-Headers')).toMatch(/Retry-After/);
    expect((await store.recentReports(10)).length).toBe(2);
    // Check-ins have their own window: a client that reported a lot still checks in.
    expect((await app.request(`/${PATHS.checkIn}`, checkIn('client-loop-01'))).status).toBe(200);
    expect((await app.request(`/${PATHS.reports}`, report('client-calm-01'))).status).toBe(202);
    now += 20_000;
    expect((await app.request(`/${PATHS.reports}`, report('client-loop-01'))).status).toBe(202);
  });

  it('is on by default (60 a minute) and can be turned off', async () => {
    const { app: make } = await setup();
    const on = make({});
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await on.request(`/${PATHS.reports}`, report('client-loop-02'))).status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(60);
    expect(statuses.at(-1)).toBe(429);
    const off = make({ clientReports: false });
    for (let i = 0; i < 61; i++) expect((await off.request(`/${PATHS.reports}`, report('client-loop-03'))).status).toBe(202);
  });

  it('over real HTTP: the 429 and its Retry-After reach the client', async () => {
    const { dir, store, blobs } = await setup();
    const server = await startServer({ store, blobs, dataDir: dir, serve: false, clientReports: { max: 1, windowMs: 60_000 } });
    try {
      const url = new URL(PATHS.reports, server.url);
      const first = await fetch(url, report('client-real-01'));
      await first.arrayBuffer();
      expect(first.status).toBe(202);
      const second = await fetch(url, report('client-real-01'));
      expect(second.status).toBe(429);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
      expect(await codeOf(second)).toBe('too_many_requests');
    } finally {
      await server.close();
    }
  });
});
