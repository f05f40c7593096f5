/**
 * A pause or a roll back reaches what a worker already holds (protocol 0.5): the server answers
 * its next check-in `current` with `drop`, and the worker discards the staged release or the plan
 * it has not finished, keeps running the active one, and tells its pages `withdrawn`.
 */
import { test, expect } from './kit/index.js';
import { visitV1 } from './support/fault-kit.js';
import { Harness, changedParts } from './support/harness.js';

const dropped = async (h: Harness, release: string) =>
  (await h.status()).reportCounts.filter((r) => r.release === release && r.event === 'dropped').reduce((n, r) => n + r.count, 0);

test('a roll back withdraws a staged release (prompt): the page hears `withdrawn`, applyUpdate() activates nothing, the worker stays on the older release', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    await page.locator('#check').click();
    await updraft.sync();
    await updraft.waitForState((s) => s.staged === v2.id, {}, 'v2 staged');
    await expect(page.locator('#apply')).toBeVisible();

    // 2.0.0 turns out bad before the user applied it: the channel goes back to 1.0.0.
    await h.rollout({ release: v1.id });
    await page.locator('#check').click();
    // The drop, then its garbage collection (which runs after it): v2's manifest is gone too.
    const s = await updraft.waitForState((st) => st.staged === null && st.plan === null && st.releases.length === 1, {}, 'v2 dropped and collected');
    expect(s.active).toBe(v1.id);
    expect(s.releases).toEqual([v1.id]);
    // The check-in that was told to drop said what it held.
    expect(h.checkIns.at(-1)?.body).toMatchObject({ release: v1.id, staged: v2.id });
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'withdrawn');
    await expect(page.locator('#apply')).toBeHidden();

    // A page that kept the old prompt (or an app that calls it anyway) activates nothing.
    const applied = await page.evaluate(() => window.updraft!.applyUpdate().then(() => 'applied', (e: { code?: string }) => e.code ?? String(e)));
    expect(applied).toBe('withdrawn');
    expect((await updraft.state()).active).toBe(v1.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#apply')).toBeHidden();
    await expect.poll(() => dropped(h, v2.id)).toBe(1);
  } finally {
    await h.close();
  }
});

test('a pause withdraws a plan whose downloads are held: the part requests open at the drop are aborted, no part is requested after it, nothing is activated', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const changed = changedParts(v1, v2);
    // The CDN takes every part request and answers none (until released): the plan stays pending.
    for (const sha of changed) h.cdn!.faults.add(sha, { kind: 'hang', times: Infinity });
    await page.locator('#check').click();
    await updraft.sync();
    // Every download slot (the worker's default concurrency, 3) has asked before the pause, so the
    // counts taken below are not still climbing.
    await expect.poll(() => h.cdn!.traffic.blobs().length).toBe(Math.min(changed.length, 3));
    const held = await updraft.state();
    expect([held.plan?.to, held.staged, held.active]).toEqual([v2.id, null, v1.id]);
    expect(h.cdn!.faults.hanging).toBe(Math.min(changed.length, 3));
    expect(h.cdn!.traffic.aborted).toEqual([]);

    // The rollout is paused: the next check-in reports the pending plan and is told to drop it.
    await h.rollout({ paused: true });
    const cdnBefore = h.cdn!.traffic.blobs().length;
    const originBefore = h.traffic.blobs().length;
    await page.locator('#check').click();
    await updraft.waitForState((st) => st.plan === null, {}, 'the plan dropped');
    expect(h.checkIns.at(-1)?.body).toMatchObject({ release: v1.id, pending: v2.id });
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'withdrawn');
    // The requests still open at the CDN are aborted by the worker at the drop, not left to bring
    // up to three whole parts nobody wants: the CDN sees their connections close unanswered.
    const open = h.cdn!.traffic.blobs().map((sha) => `/v1/blobs/${sha}`).sort();
    await expect.poll(() => [...h.cdn!.traffic.aborted].sort()).toEqual(open);
    // Aborted is no failure: not reported as one, and nothing of v2 stayed in the parts cache.
    expect((await h.status()).reportCounts.filter((r) => r.release === v2.id && r.event === 'failed')).toEqual([]);
    expect((await updraft.state()).parts).toBe(held.parts);

    // The hung answers go out now, to closed connections; nothing follows: no retry elsewhere, no install.
    h.cdn!.faults.releaseAll();
    h.cdn!.faults.clear();
    await updraft.sync();
    await expect.poll(() => dropped(h, v2.id)).toBe(1);
    await updraft.sync();
    const s = await updraft.state();
    expect([s.active, s.staged, s.plan]).toEqual([v1.id, null, null]);
    expect(h.cdn!.traffic.blobs().length).toBe(cdnBefore);
    expect(h.traffic.blobs().length).toBe(originBefore);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    expect((await h.status()).reportCounts.filter((r) => r.release === v2.id && (r.event === 'downloaded' || r.event === 'activated'))).toEqual([]);
  } finally {
    await h.close();
  }
});
