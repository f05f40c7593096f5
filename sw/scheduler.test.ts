import { describe, expect, it } from 'vitest';
import type { Plan, Task } from '../protocol/index.js';
import { backoff, BACKOFF_CAP_MS, dueTasks, nextWakeAt, parseRetryAfter, RETRY_AFTER_CAP_MS, toLocal } from './scheduler.js';
import type { StoredPlan, TaskRecord } from './store.js';

const SHA = 'a'.repeat(64);
const fetchTask = (id: string, o: Partial<Extract<Task, { kind: 'fetch' }>> = {}): Task => ({
  id, kind: 'fetch', after: [], sha256: SHA, size: 1, sources: ['https://cdn.test/x', 'https://origin.test/x'], notBefore: 1000, ...o,
});
const plan = (tasks: Task[], activation: Plan['activation'] = 'next-navigation'): Plan => ({
  planId: 'p', app: 'demo', from: null, to: '0123456789abcdef', toSeq: 1, issuedAt: 1000, expiresAt: 99_999, activation,
  release: { id: '0123456789abcdef', app: 'demo', version: '1', createdAt: '2030-01-01T00:00:00.000Z', entry: 'index.html', assets: [{ path: 'index.html', sha256: SHA, size: 1, type: 'text/html' }] },
  tasks,
});
const stored = (p: Plan, recs: Partial<Record<string, Partial<TaskRecord>>> = {}, o: Partial<StoredPlan> = {}): StoredPlan => ({
  plan: p, receivedAt: 50_000, applied: false, failure: null,
  tasks: Object.fromEntries(p.tasks.map((t) => [t.id, { id: t.id, state: 'pending', attempts: 0, nextAttemptAt: 0, lastError: null, ...recs[t.id] }])),
  ...o,
});
const ids = (ts: Task[]) => ts.map((t) => t.id);

describe('dueTasks', () => {
  const three = plan([fetchTask('a'), fetchTask('b'), fetchTask('c'), { id: 'i', kind: 'install', after: ['a', 'b', 'c'] }]);
  it.each([
    ['all fetches due, install waits for deps', stored(three), 50_000, {}, 3, ['a', 'b', 'c']],
    ['concurrency bounds the batch', stored(three), 50_000, {}, 2, ['a', 'b']],
    ['running tasks take slots', stored(three, { a: { state: 'running' } }), 50_000, {}, 2, ['b']],
    ['done and failed are not due', stored(three, { a: { state: 'done' }, b: { state: 'failed' } }), 50_000, {}, 3, ['c']],
    ['deps done → install due', stored(three, { a: { state: 'done' }, b: { state: 'done' }, c: { state: 'done' } }), 50_000, {}, 3, ['i']],
    ['nextAttemptAt in the future', stored(three, { a: { nextAttemptAt: 60_000 } }), 59_999, {}, 3, ['b', 'c']],
    ['nextAttemptAt reached', stored(three, { a: { nextAttemptAt: 60_000 } }), 60_000, {}, 3, ['a', 'b', 'c']],
    ['one source held: still due', stored(three), 50_000, { 'https://cdn.test': 70_000 }, 3, ['a', 'b', 'c']],
    ['every source held: not due', stored(three), 50_000, { 'https://cdn.test': 70_000, 'https://origin.test': 60_000 }, 3, []],
    ['failed plan: nothing', stored(three, {}, { failure: { code: 'quota', message: '' } }), 50_000, {}, 3, []],
  ] as const)('%s', (_, s, now, holds, concurrency, expected) => {
    expect(ids(dueTasks({ stored: s, now, holds, concurrency }))).toEqual(expected);
  });

  it('notBefore is converted to the local clock (receivedAt + notBefore - issuedAt)', () => {
    const s = stored(plan([fetchTask('a', { notBefore: 11_000 })]));
    expect(toLocal(s.plan, s.receivedAt, 11_000)).toBe(60_000);
    expect(ids(dueTasks({ stored: s, now: 59_999, holds: {}, concurrency: 3 }))).toEqual([]);
    expect(ids(dueTasks({ stored: s, now: 60_000, holds: {}, concurrency: 3 }))).toEqual(['a']);
    expect(nextWakeAt({ stored: s, now: 0, holds: {}, concurrency: 3 })).toBe(60_000);
  });

  it('prompt activation waits for apply', () => {
    const p = plan([{ id: 'act', kind: 'activate', after: [] }], 'prompt');
    expect(ids(dueTasks({ stored: stored(p), now: 50_000, holds: {}, concurrency: 3 }))).toEqual([]);
    expect(nextWakeAt({ stored: stored(p), now: 50_000, holds: {}, concurrency: 3 })).toBeNull();
    expect(ids(dueTasks({ stored: stored(p, {}, { applied: true }), now: 50_000, holds: {}, concurrency: 3 }))).toEqual(['act']);
  });

  it('nextWakeAt: the earliest of notBefore, nextAttemptAt and holds', () => {
    const s = stored(plan([fetchTask('a', { notBefore: 2000 }), fetchTask('b')]), { b: { nextAttemptAt: 80_000 } });
    expect(nextWakeAt({ stored: s, now: 0, holds: { 'https://cdn.test': 90_000, 'https://origin.test': 95_000 }, concurrency: 3 })).toBe(90_000);
    expect(nextWakeAt({ stored: s, now: 0, holds: {}, concurrency: 3 })).toBe(51_000);
  });
});

describe('backoff', () => {
  it.each([0, 1, 2, 5, 10, 50])('attempt %i stays within [1s, 5min]', (n) => {
    for (const r of [0, 0.3, 0.999999]) {
      const d = backoff(n, r);
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    }
  });
  it('grows exponentially before the cap (full jitter: random × ceiling)', () => {
    expect(backoff(3, 0.999999)).toBe(7999);
    expect(backoff(4, 0.5)).toBe(8000);
    expect(backoff(30, 0.999999)).toBe(BACKOFF_CAP_MS - 1);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2030, 0, 1, 12);
  it.each([
    ['120', now + 120_000],
    [' 0 ', now],
    ['999999999', now + RETRY_AFTER_CAP_MS],
    // Too many digits for a double (Infinity): still a (very long) delay, capped, not "no header".
    ['9'.repeat(400), now + RETRY_AFTER_CAP_MS],
    [new Date(now + 30_000).toUTCString(), now + 30_000],
    [new Date(now - 30_000).toUTCString(), now],
    [new Date(now + 3 * RETRY_AFTER_CAP_MS).toUTCString(), now + RETRY_AFTER_CAP_MS],
    [null, null],
    ['', null],
    ['-5', null],
    ['1.5', null],
    ['soon', null],
    ['Fooday, 99 Bla 99999 99:99:99 GMT', null],
  ] as const)('%j → %j', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
