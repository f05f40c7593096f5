import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';

test('a periodic sync checks in and brings the update without any page asking', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    const before = h.traffic.count('/v1/check-in');
    await updraft.periodicSync();
    await updraft.waitForRelease(v2.id);
    expect(h.traffic.count('/v1/check-in')).toBe(before + 1);
  } finally {
    await h.close();
  }
});

test('the worker checks in again at the interval the server set, on its next wake-up', async ({ page, updraft }) => {
  const h = await Harness.start({ checkInInterval: 2 });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    const first = await updraft.waitForRelease(v1.id);
    expect(first.nextCheckInAt).not.toBeNull();
    const v2 = await h.publish('2.0.0');
    // Before the interval is up a wake-up does not check in.
    await updraft.message({ type: 'updraft:wake' });
    const checkIns = h.traffic.count('/v1/check-in');
    await expect.poll(async () => Date.now() >= (await updraft.state()).nextCheckInAt!, { timeout: 5_000 }).toBe(true);
    expect(h.traffic.count('/v1/check-in')).toBe(checkIns);
    // A navigation is a wake-up: the due check-in happens and the update follows.
    await page.reload();
    await updraft.waitForRelease(v2.id);
    expect(h.traffic.count('/v1/check-in')).toBeGreaterThan(checkIns);
  } finally {
    await h.close();
  }
});
