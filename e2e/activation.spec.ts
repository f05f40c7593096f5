import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';

test('prompt policy: the update waits staged until the page applies it', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    await page.locator('#check').click();
    await updraft.sync();
    // The worker's state first: if staging stalls, its timeout error carries the plan and log lines.
    const staged = await updraft.waitForState((s) => s.staged === v2.id, {}, 'v2 staged');
    expect(staged.active).toBe(v1.id);
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'update-ready');
    // Still v1 on a new navigation: prompt means nothing switches until the user says so.
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#apply')).toBeVisible();
    await page.locator('#apply').click();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await updraft.waitForRelease(v2.id);
  } finally {
    await h.close();
  }
});

test('immediate policy: open pages reload into the new release', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0', { activation: 'immediate' });
    await page.locator('#check').click();
    await updraft.sync();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
  } finally {
    await h.close();
  }
});

test('the server hears downloaded and activated reports, and counts the client on its release', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    await updraft.checkNow();
    await updraft.sync();
    await updraft.waitForRelease(v2.id);
    await expect
      .poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => r.event).sort())
      .toEqual(['activated', 'downloaded']);
    await updraft.checkNow();
    await expect.poll(async () => (await h.status()).clients).toEqual([{ channel: 'stable', release: v2.id, count: 1 }]);
  } finally {
    await h.close();
  }
});
