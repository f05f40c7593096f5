import { test, expect } from './kit/index.js';
import { expectCollected, visitV1 } from './support/fault-kit.js';
import { Harness } from './support/harness.js';

test('a roll back reaches a worker that has the newer release staged (prompt): it stages the older one instead', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    // 2.0.0 is published but not offered; 3.0.0 is, with the prompt policy: it waits staged.
    const v2 = await h.publish('2.0.0', { channel: undefined });
    const v3 = await h.publish('3.0.0', { activation: 'prompt' });
    await page.locator('#check').click();
    await updraft.sync();
    await updraft.waitForState((s) => s.staged === v3.id, {}, 'v3 staged');
    // 3.0.0 turns out bad before the user applied it: the channel goes back to 2.0.0. The worker
    // runs 1.0.0 but holds 3.0.0, so only a signed rollback directive may move it to 2.0.0.
    await h.rollout({ release: v2.id });
    await page.locator('#check').click();
    await updraft.sync();
    const s = await updraft.waitForState((st) => st.staged === v2.id, {}, 'v2 staged in place of v3');
    expect(s.active).toBe(v1.id);
    // 3.0.0 is collected as soon as 2.0.0 is staged, before any apply: its record and the parts
    // only it had go; what 1.0.0 (active, and this page's pin) and 2.0.0 need stays.
    await expectCollected(page, updraft, v3, [v1, v2], '3.0.0 collected once 2.0.0 is staged');
    await page.reload();
    await expect(page.locator('#apply')).toBeVisible();
    await page.locator('#apply').click();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await updraft.waitForRelease(v2.id);
  } finally {
    await h.close();
  }
});
