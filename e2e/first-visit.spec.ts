import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';

test('first visit installs the release; an offline reload still renders it from the SW', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    const state = await updraft.waitForActivated();
    expect(state.active).toBe(v1.id);
    await expect(page.locator('#release')).toHaveText(v1.id);

    await h.stopAll();
    const response = await page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
  } finally {
    await h.close();
  }
});
