import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';

test('rolling the channel back to an older release moves a client on the newer one back, atomically on the next navigation', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    await expect(page.locator('#version')).toHaveText('1.0.0');

    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');

    await h.rollout({ release: v1.id });
    await updraft.updateTo(v1.id);
    // The open page keeps v2 (its lazy chunk included) until it navigates: no mix of releases.
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '2.0.0');

    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#release')).toHaveText(v1.id);
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');

    const reports = (await h.status()).reportCounts.filter((r) => r.release === v1.id && r.event === 'activated');
    expect(reports.reduce((n, r) => n + r.count, 0)).toBeGreaterThanOrEqual(1);
  } finally {
    await h.close();
  }
});
