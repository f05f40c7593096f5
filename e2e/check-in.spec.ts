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
    // Chromium's worker says it reads compact plans and fetches plan documents. This plan is a
    // few files, under the server's planRefMinBytes, so it came inline: as gzip spliced from
    // fragments (server/gzip-answer.ts), which Chromium decodes.
    expect(h.checkIns.at(-1)).toMatchObject({ body: { caps: { compactPlans: true, planRefs: true } }, encoding: 'gzip' });
    expect(h.traffic.count(/^\/v1\/plans\//)).toBe(0);
  } finally {
    await h.close();
  }
});

test('an update by reference: the worker fetches the plan document the answer names, once, and the update lands', async ({ page, updraft }) => {
  const h = await Harness.start({ planRefMinBytes: 0 });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    // A small answer, not compressed, then one GET of the document it names.
    expect(h.checkIns.at(-1)).toMatchObject({ body: { caps: { planRefs: true } }, encoding: null });
    expect(h.traffic.count(new RegExp(`^/v1/plans/demo/stable/${v1.id}/${v2.id}/[0-9a-f]{64}$`))).toBe(1);
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('a wake-up before the interval is up does not check in', async ({ page, updraft }) => {
  const h = await Harness.start({ checkInInterval: 600 });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    const first = await updraft.waitForRelease(v1.id);
    expect(first.nextCheckInAt).toBeGreaterThan(Date.now() + 500_000);
    await h.publish('2.0.0');
    const checkIns = h.traffic.count('/v1/check-in');
    await updraft.message({ type: 'updraft:wake' });
    await updraft.sync();
    await page.reload();
    await updraft.waitForPlanSettled();
    expect(h.traffic.count('/v1/check-in')).toBe(checkIns);
    expect((await updraft.state()).active).toBe(v1.id);
  } finally {
    await h.close();
  }
});

test('an open page that never navigates nudges the worker when its check-in is due', async ({ page, updraft }) => {
  const h = await Harness.start({ checkInInterval: 2 });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    // No navigation, no checkNow, no sync dispatched: the page's timer alone brings the check-in.
    await updraft.waitForState((s) => s.active === v2.id || s.plan?.to === v2.id, { timeout: 15_000 }, 'a check-in that finds v2');
  } finally {
    await h.close();
  }
});

test('the kit\'s updateTo: fails at once with the server\'s answer when the check-in offers another release, passes when already there', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    // Nothing newer is published: the check-in answers `current`, which is not the release asked for.
    await expect(updraft.updateTo('0123456789abcdef')).rejects.toThrow(/did not offer 0123456789abcdef: \{"result":"current"\}/);
    expect((await updraft.updateTo(v1.id)).active).toBe(v1.id);
    const v2 = await h.publish('2.0.0');
    const state = await updraft.updateTo(v2.id);
    expect(state.active).toBe(v2.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('the worker sends back the server\'s acknowledgement of its recorded state, so an unchanged client is not written again', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    await updraft.checkNow();
    await updraft.checkNow();
    const bodies = h.checkIns.map((c) => c.body as { recorded?: string; release: string | null });
    // The first check-in (the install's) has nothing to send back; every later one sends the last token.
    expect(bodies[0]?.recorded).toBeUndefined();
    expect(bodies.length).toBeGreaterThanOrEqual(3);
    const tokens = bodies.slice(1).map((b) => b.recorded);
    for (const t of tokens) expect(t).toMatch(/^[0-9a-z]{1,16}$/);
    // Same state, same period, same server: the same acknowledgement each time.
    expect(new Set(tokens.slice(-2)).size).toBe(1);
  } finally {
    await h.close();
  }
});
