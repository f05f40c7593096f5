/**
 * Fault matrix, Retry-After: 429 and 503 on parts and on check-in are honoured to the second
 * (measured at the servers: no request earlier), then the update completes; a missing, unparseable
 * or absurd Retry-After gets a bounded backoff instead.
 */
import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { blobPath, times, visitV1 } from './support/fault-kit.js';

/** Slack for "not much later than asked": the SW's timer and one hop to the server. */
const LATE_MS = 1_500;
const DAY_MS = 24 * 3600_000;

test('429 at the CDN and 503 at the origin with Retry-After on a part: no request to either before its time, then it completes', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const part = changedParts(v1, v2)[0]!;
    h.cdn!.faults.add(part, { kind: 'status', status: 429, retryAfter: 2 });
    h.faults.add(part, { kind: 'status', status: 503, retryAfter: 3 });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    await updraft.waitForState((s) => Object.keys(s.holdUntil).length >= 2, {}, 'both sources to be held');
    // Wake the worker again and again while held: it must not ask early.
    for (let i = 0; i < 5; i++) await updraft.sync();
    await updraft.waitForRelease(v2.id, { timeout: 20_000 });

    const cdnTimes = times(h.cdn!, blobPath(part));
    expect(cdnTimes).toHaveLength(2);
    expect(cdnTimes[1]! - cdnTimes[0]!).toBeGreaterThanOrEqual(2_000);
    expect(cdnTimes[1]! - cdnTimes[0]!).toBeLessThan(2_000 + LATE_MS);
    // Nothing went to the held CDN in its window (the other parts were asked concurrently with the
    // refused one, before its answer came); the origin was asked once (its 503): the CDN was free first.
    const held = h.cdn!.traffic.fromBrowser().filter((r) => r.at > cdnTimes[0]! + 250 && r.at < cdnTimes[0]! + 2_000);
    expect(held).toEqual([]);
    expect(times(h, blobPath(part))).toHaveLength(1);
  } finally {
    await h.close();
  }
});

test('429 then 503 with Retry-After on check-in: no check-in before each time, then the update completes', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    h.faults.add('/v1/check-in', { kind: 'status', status: 429, retryAfter: 2 });
    h.faults.add('/v1/check-in', { kind: 'status', status: 503, retryAfter: 1 });
    expect((await updraft.checkNow()).result).toBe('retry');
    // The page asks and Background Sync wakes the worker, often: only the server's times decide.
    await expect
      .poll(async () => {
        await updraft.sync();
        if (h.checkIns.length < 3) await updraft.checkNow();
        return h.checkIns.length;
      }, { intervals: [100], timeout: 10_000 })
      .toBeGreaterThanOrEqual(3);
    await updraft.sync();
    await updraft.waitForRelease(v2.id);

    const at = times(h, '/v1/check-in');
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(2_000);
    expect(at[1]! - at[0]!).toBeLessThan(2_000 + LATE_MS);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1_000);
    expect(at[2]! - at[1]!).toBeLessThan(1_000 + LATE_MS);
  } finally {
    await h.close();
  }
});

test('503 without Retry-After, then 429 with an unparseable one: retries spaced by a bounded, growing backoff', async ({ page, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const part = changedParts(v1, v2)[0]!;
    h.faults.add(part, { kind: 'status', status: 503 });
    h.faults.add(part, { kind: 'status', status: 429, retryAfter: 'soon' });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    await updraft.waitForRelease(v2.id, { timeout: 20_000 });

    const at = times(h, blobPath(part));
    expect(at).toHaveLength(3);
    // Backoff with full jitter, floored at 1 s: the first wait is in [1, 2] s, the second in [1, 4] s.
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[0]).toBeLessThan(2_000 + LATE_MS);
    expect(gaps[1]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[1]).toBeLessThan(4_000 + LATE_MS);
  } finally {
    await h.close();
  }
});

test('an absurd Retry-After holds the CDN for at most a day; the origin serves the part at once', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const part = changedParts(v1, v2)[0]!;
    h.cdn!.faults.add(part, { kind: 'status', status: 503, retryAfter: '9999999999999' });
    const before = Date.now();
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    const s = await updraft.waitForRelease(v2.id);
    const hold = s.holdUntil[new URL(h.cdn!.url).origin]!;
    expect(hold).toBeGreaterThan(before);
    expect(hold).toBeLessThanOrEqual(Date.now() + DAY_MS);
    expect(times(h, blobPath(part))).toHaveLength(1);
  } finally {
    await h.close();
  }
});
