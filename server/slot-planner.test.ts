import { describe, expect, it } from 'vitest';
import { MemorySlotLedger, type Budget, type SlotLedgerView } from './slot-ledger.js';
import { planSlots, type SlotRequest } from './slot-planner.js';

const T0 = 1_700_000_000_000;
const parts = (...sizes: number[]): SlotRequest[] => sizes.map((size) => ({ size, sources: ['origin'] }));

/** `ledger` read at most `maxReads` times: a planner that walks the buckets without end fails instead of hanging the run. */
function bounded(ledger: MemorySlotLedger, maxReads: number): SlotLedgerView {
  let reads = 0;
  const read = () => {
    if (++reads > maxReads) throw new Error(`read ${maxReads} buckets and still planning`);
  };
  return {
    bucketMs: ledger.bucketMs,
    bytes: (source, index) => (read(), ledger.bytes(source, index)),
    requests: (source, index) => ledger.requests(source, index),
    firstOpen: (source, index) => (read(), ledger.firstOpen(source, index)),
  };
}

describe('planSlots', () => {
  const cases: {
    name: string;
    capacity: Record<string, Budget>;
    /** Plans booked one after the other, each from `earliest` (ms after T0). */
    plans: { fetches: SlotRequest[]; earliest?: number }[];
    /** Expected notBefore (ms after T0) and first source per fetch, per plan. */
    notBefore: number[][];
    sourceFirst?: number[][];
  }[] = [
    { name: 'empty ledger: starts at once', capacity: { origin: { bytesPerSecond: 1000 } }, plans: [{ fetches: parts(100) }], notBefore: [[0]] },
    {
      name: 'bytes: later fetches start where the booked bytes end (fluid order)',
      capacity: { origin: { bytesPerSecond: 1000 } },
      plans: [{ fetches: parts(485, 485) }, { fetches: parts(485) }],
      // 0.97 × 1000 = 970 bytes per 1 s bucket.
      notBefore: [[0, 500], [1000]],
    },
    {
      name: 'a part larger than a bucket spills into the next ones',
      capacity: { origin: { bytesPerSecond: 1000 } },
      plans: [{ fetches: parts(970 * 2.5) }, { fetches: parts(10) }],
      notBefore: [[0], [2500]],
    },
    {
      name: 'requests per second bind before bytes',
      capacity: { origin: { bytesPerSecond: 1e9, requestsPerSecond: 2 } },
      // floor(2 × 0.97) → one request fits per bucket at 0.97 utilisation of 2 r/s (1.94).
      plans: [{ fetches: parts(1, 1, 1) }],
      notBefore: [[0, 1000, 2000]],
    },
    {
      name: 'earliest in the future: no slot before it',
      capacity: { origin: { bytesPerSecond: 1000 } },
      plans: [{ fetches: parts(100), earliest: 5300 }],
      notBefore: [[5300]],
    },
    {
      name: 'two sources: each fetch goes where it can start first, and moves that source first',
      capacity: { 'https://cdn/': { bytesPerSecond: 1000 }, origin: { bytesPerSecond: 1000 } },
      plans: [{ fetches: [{ size: 970, sources: ['https://cdn/', 'origin'] }, { size: 970, sources: ['https://cdn/', 'origin'] }, { size: 970, sources: ['https://cdn/', 'origin'] }] }],
      notBefore: [[0, 0, 1000]],
      sourceFirst: [[0, 1, 0]],
    },
    {
      name: 'a source without a budget is unlimited and books nothing',
      capacity: { origin: { bytesPerSecond: 1 } },
      plans: [{ fetches: [{ size: 1e9, sources: ['https://cdn/', 'origin'] }] }, { fetches: [{ size: 1e9, sources: ['https://cdn/', 'origin'] }] }],
      notBefore: [[0], [0]],
      sourceFirst: [[0], [0]],
    },
  ];

  it.each(cases)('$name', ({ capacity, plans, notBefore, sourceFirst }) => {
    const ledger = new MemorySlotLedger(1000);
    const got = plans.map((p) => {
      const plan = planSlots({ fetches: p.fetches, earliest: T0 + (p.earliest ?? 0), capacity, ledger, utilization: 0.97 });
      ledger.book(plan.charges);
      return plan;
    });
    expect(got.map((p) => p.notBefore.map((t) => t - T0))).toEqual(notBefore);
    if (sourceFirst) expect(got.map((p) => p.sourceFirst)).toEqual(sourceFirst);
  });

  it('never books a bucket over its budget, and fills it to the budget (10k random plans)', () => {
    const ledger = new MemorySlotLedger(1000);
    const capacity = { origin: { bytesPerSecond: 50_000, requestsPerSecond: 40 }, 'https://cdn/': { bytesPerSecond: 150_000 } };
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let total = 0;
    for (let i = 0; i < 10_000; i++) {
      const fetches = Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({ size: Math.floor(random() * 20_000), sources: ['https://cdn/', 'origin'] }));
      total += fetches.reduce((n, f) => n + f.size, 0);
      ledger.book(planSlots({ fetches, earliest: T0 + Math.floor(random() * 60_000), capacity, ledger, utilization: 0.97 }).charges);
    }
    const base = Math.floor(T0 / 1000);
    let last = base;
    for (let i = base; i < base + 100_000; i++) {
      expect(ledger.bytes('origin', i)).toBeLessThanOrEqual(50_000 * 0.97 + 1e-6);
      expect(ledger.requests('origin', i)).toBeLessThanOrEqual(40 * 0.97);
      expect(ledger.bytes('https://cdn/', i)).toBeLessThanOrEqual(150_000 * 0.97 + 1e-6);
      if (ledger.bytes('origin', i) + ledger.bytes('https://cdn/', i) > 0) last = i;
    }
    // As early as the budget allows: the booked span is within a few buckets of total ÷ capacity.
    const bound = total / (200_000 * 0.97);
    expect(last - base + 1).toBeLessThan(bound * 1.02 + 3);
  });

  it.each([1, 0.5, 0.2])('a budget under one request a bucket (requestsPerSecond: %s) starts a request every 1 / budget seconds, never over it', (rps) => {
    // 0.97 × 1 r/s is less than one request per 1 s bucket: a whole request never fits in one,
    // and the planner used to search the buckets for one forever (the server hung on its first plan).
    const ledger = new MemorySlotLedger(1000);
    const capacity = { origin: { bytesPerSecond: 1e9, requestsPerSecond: rps } };
    const starts: number[] = [];
    for (let p = 0; p < 3; p++) {
      const plan = planSlots({ fetches: parts(100, 200, 300, 400), earliest: T0, capacity, ledger: bounded(ledger, 1000), utilization: 0.97 });
      ledger.book(plan.charges);
      starts.push(...plan.notBefore.map((t) => t - T0));
    }
    const gap = 1000 / (rps * 0.97);
    expect(starts[0]).toBe(0);
    for (let i = 1; i < starts.length; i++) expect(Math.abs(starts[i]! - i * gap)).toBeLessThanOrEqual(1);
    let booked = 0;
    const base = T0 / 1000;
    for (let i = base; i < base + 100; i++) {
      expect(ledger.requests('origin', i)).toBeLessThanOrEqual(rps * 0.97 + 1e-9);
      booked += ledger.requests('origin', i);
    }
    expect(booked).toBeCloseTo(12, 9);
  });

  it('with a horizon: a plan not through by it at the budget\'s rate books nothing and is null; one that is, is booked as without', () => {
    const ledger = new MemorySlotLedger(1000);
    const capacity = { origin: { bytesPerSecond: 1000 } };
    const horizon = T0 + 5000;
    const plan = (size: number) => planSlots({ fetches: parts(size), earliest: T0, capacity, ledger, utilization: 0.97, horizon });
    // 970 B a second: 2 × 1940 B end at 4 s, within the horizon.
    for (const expected of [0, 2000]) {
      const p = plan(1940);
      expect(p?.notBefore.map((t) => t - T0)).toEqual([expected]);
      ledger.book(p!.charges);
    }
    // 970 B more would end exactly at the horizon: still through. Then no room is left.
    const last = plan(970);
    expect(last?.notBefore.map((t) => t - T0)).toEqual([4000]);
    ledger.book(last!.charges);
    expect(plan(1)).toBeNull();
    // Room is left before the horizon, but not enough to be through by it: nothing booked.
    const other = new MemorySlotLedger(1000);
    expect(planSlots({ fetches: parts(100, 970 * 5), earliest: T0, capacity, ledger: other, utilization: 0.97, horizon })).toBeNull();
    expect(other.bytes('origin', T0 / 1000)).toBe(0);
  });

  it.each([
    ['a few bytes a second', { bytesPerSecond: 10 }],
    ['a request a day', { requestsPerSecond: 1 / 86_400 }],
  ])('a budget tiny next to its parts (%s): null after at most a horizon of buckets read, not seconds of walking them', (_, budget) => {
    // 5 MB at 10 B/s is six days: booking it read and charged 520k buckets (1.5 s of a check-in).
    const ledger = new MemorySlotLedger(1000);
    const horizon = T0 + 86_400_000;
    const plan = planSlots({ fetches: parts(5_000_000, 10), earliest: T0, capacity: { origin: budget }, ledger: bounded(ledger, 2 * 86_400 + 10), horizon });
    expect(plan).toBeNull();
  });

  it('the ledger forgets buckets and reservations once they pass', () => {
    const ledger = new MemorySlotLedger(1000);
    ledger.book(planSlots({ fetches: parts(5000), earliest: T0, capacity: { origin: { bytesPerSecond: 1000 } }, ledger }).charges);
    ledger.reserve('a', { to: 'x', notBefore: [T0], sourceFirst: [0] });
    expect(ledger.bytes('origin', T0 / 1000)).toBeGreaterThan(0);
    ledger.releaseBefore(T0 + 3000);
    expect(ledger.bytes('origin', T0 / 1000)).toBe(0);
    expect(ledger.bytes('origin', T0 / 1000 + 4)).toBeGreaterThan(0);
    ledger.releaseBefore(T0 + 200_000, 60_000);
    expect(ledger.reservation('a')).toBeUndefined();
  });
});
