import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookSlots } from './check-in.js';
import type { PlanTemplate } from './planner.js';
import { PostgresSlotLedger } from './postgres-slot-ledger.js';
import { openPostgresStore, type PostgresStore } from './postgres-store.js';
import { createTestDatabase, dropTestDatabase, findTestPostgres } from './postgres-test-db.js';
import { MemorySlotLedger, type Budget, type Slots } from './slot-ledger.js';

const T0 = 1_900_000_000_000;
const CDN = 'https://cdn.test/';
const CAPACITY: Record<string, Budget> = { origin: { bytesPerSecond: 20_000, requestsPerSecond: 8 }, [CDN]: { bytesPerSecond: 30_000 } };
const UTIL = 0.96;
const SOURCES = [CDN, 'origin'];

/** Deterministic sizes: client i needs 3 parts of 1-9 KB. */
const sizes = (i: number) => [1, 2, 3].map((k) => 1000 * (((i * 7 + k * 3) % 9) + 1));

/** Requests per (source, second) as the plans say: each fetch starts in the bucket of its notBefore, on its first source. */
function requestsPerSecond(plans: readonly Slots[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of plans) {
    p.notBefore.forEach((t, i) => {
      const key = `${SOURCES[p.sourceFirst[i]!]} ${Math.floor(t / 1000)}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    });
  }
  return out;
}

describe('two MemorySlotLedgers (one per process) do not share a budget', () => {
  it('their combined bookings overbook the origin', () => {
    const [a, b] = [new MemorySlotLedger(), new MemorySlotLedger()];
    const plans: Slots[] = [];
    for (let i = 0; i < 200; i++) {
      const t: PlanTemplate = { to: 'r2', sourceKeys: SOURCES, fetches: sizes(i).map((size) => ({ size })) } as unknown as PlanTemplate;
      plans.push(bookSlots(i % 2 ? a : b, CAPACITY, t, `app\nc${i}`, T0, T0));
    }
    const worst = Math.max(...[...requestsPerSecond(plans)].filter(([k]) => k.startsWith('origin ')).map(([, n]) => n));
    // Each alone stays at 8 × 0.96 requests a second; together they book up to twice that.
    expect(worst).toBeGreaterThan(8);
    for (const l of [a, b]) for (let s = T0 / 1000; s < T0 / 1000 + 200; s++) expect(l.requests('origin', s)).toBeLessThanOrEqual(8 * UTIL);
  });
});

const pg = await findTestPostgres();

if (!pg.url) {
  if (pg.required) it('PostgreSQL is available', () => expect.fail(pg.why));
  else {
    console.warn(`postgres-slot-ledger.test.ts: skipped: ${pg.why}`);
    describe.skip(`PostgresSlotLedger (skipped: ${pg.why})`, () => it('shares one budget', () => {}));
  }
} else {
  const server = pg.url;
  describe('PostgresSlotLedger', () => {
    let db: string;
    let stores: PostgresStore[];
    beforeAll(async () => {
      db = await createTestDatabase(server);
      // Two pools, as two server processes would have.
      stores = await Promise.all([openPostgresStore(db), openPostgresStore(db)]);
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await dropTestDatabase(server, db);
    });

    it('two ledgers on one database, booking concurrently, never overbook a bucket together', async () => {
      const [a, b] = stores.map((s) => new PostgresSlotLedger(s.pool, { utilization: UTIL }));
      const plans = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          (i % 2 ? a! : b!).bookPlan({
            client: `app\nc${i}`, to: 'r2', fetches: sizes(i).map((size) => ({ size, sources: SOURCES })),
            earliest: T0 + (i % 5) * 300, now: T0, capacity: CAPACITY,
          }),
        ),
      );
      // From the plans: requests a second per source within the origin's budget.
      const perSecond = requestsPerSecond(plans);
      expect([...perSecond.values()].reduce((n, x) => n + x, 0)).toBe(600);
      for (const [key, n] of perSecond) if (key.startsWith('origin ')) expect(n).toBeLessThanOrEqual(8 * UTIL);
      // From the table: bytes and requests of every bucket within budget, every fetch booked once.
      const { rows } = await stores[0]!.pool.query<{ source: string; bucket: number; bytes: number; requests: number }>('SELECT source, bucket, bytes, requests FROM updraft_slots');
      for (const r of rows) {
        const budget = CAPACITY[r.source]!;
        expect(r.bytes).toBeLessThanOrEqual((budget.bytesPerSecond ?? Infinity) * UTIL + 1e-6);
        expect(r.requests).toBeLessThanOrEqual((budget.requestsPerSecond ?? Infinity) * UTIL + 1e-6);
      }
      expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(600);
      const total = Array.from({ length: 200 }, (_, i) => sizes(i).reduce((x, y) => x + y, 0)).reduce((x, y) => x + y, 0);
      expect(rows.reduce((n, r) => n + r.bytes, 0)).toBeCloseTo(total, 3);
      // Both processes were busy at once: some bookings had to be planned again, and were.
      expect(a!.retries + b!.retries).toBeGreaterThan(0);

      // A client that checks in at the other process keeps its slots; a new target books afresh.
      const again = await a!.bookPlan({ client: 'app\nc0', to: 'r2', fetches: sizes(0).map((size) => ({ size, sources: SOURCES })), earliest: T0, now: T0 + 500, capacity: CAPACITY });
      expect(again).toEqual(plans[0]);
      const moved = await a!.bookPlan({ client: 'app\nc0', to: 'r3', fetches: [{ size: 10, sources: SOURCES }], earliest: T0, now: T0 + 500, capacity: CAPACITY });
      expect(moved.notBefore).toHaveLength(1);
    });

    it('a booking that waited in its queue past its second finds that bucket still booked, though another process swept since', async () => {
      const [a, b] = stores.map((s) => new PostgresSlotLedger(s.pool, { utilization: UTIL }));
      const t = T0 + 1_800_000;
      const book = (l: PostgresSlotLedger, i: number, now: number) =>
        l.bookPlan({ client: `app\nq${i}`, to: 'r2', fetches: [{ size: 100, sources: ['origin'] }], earliest: t, now, capacity: CAPACITY });
      // A fills the origin's requests in second t (7 of 8 × 0.96).
      const first = await Promise.all(Array.from({ length: 7 }, (_, i) => book(a!, i, t)));
      // B's first booking, two seconds later, sweeps.
      await book(b!, 100, t + 2000);
      // Bookings made at t that waited in A's queue (a loaded process) run now.
      const late = await Promise.all(Array.from({ length: 7 }, (_, i) => book(a!, 200 + i, t)));
      const inFirstSecond = [...first, ...late].filter((p) => Math.floor(p.notBefore[0]! / 1000) === t / 1000).length;
      expect(inFirstSecond).toBe(7);
    });

    it('a plan not through by its horizon books nothing and is null', async () => {
      const ledger = new PostgresSlotLedger(stores[0]!.pool, { utilization: UTIL });
      const t = T0 + 2_400_000;
      const count = async () => (await stores[0]!.pool.query<{ n: number }>('SELECT count(*) AS n FROM updraft_slots WHERE bucket >= $1', [t / 1000])).rows[0]!.n;
      const book = (client: string, size: number) =>
        ledger.bookPlan({ client, to: 'r2', fetches: [{ size, sources: ['origin'] }], earliest: t, now: t, capacity: CAPACITY, horizon: t + 3000 });
      // 19 200 B a second at the origin: 3 s hold 57 600 B.
      expect((await book('app\nh1', 50_000))?.notBefore).toEqual([t]);
      const booked = await count();
      expect(await book('app\nh2', 10_000)).toBeNull();
      expect(await count()).toBe(booked);
      expect(await book('app\nh3', 5_000)).not.toBeNull();
    });

    it('forgets passed buckets and reservations', async () => {
      const ledger = new PostgresSlotLedger(stores[1]!.pool);
      const later = T0 + 3_600_000;
      await ledger.bookPlan({ client: 'app\nlate', to: 'r2', fetches: [{ size: 100, sources: SOURCES }], earliest: later, now: later, capacity: CAPACITY });
      const count = async (table: string) => (await stores[1]!.pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n;
      expect(await count('updraft_slots')).toBe(1);
      expect(await count('updraft_slot_reservations')).toBe(1);
    });
  });
}
