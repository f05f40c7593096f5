import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';

test('a first install that fails (its manifest unavailable) rejects `controlled` and `ready()` instead of leaving them waiting; the page runs from the network', async ({ page }) => {
  const h = await Harness.start();
  try {
    await h.publish('1.0.0');
    h.faults.add('/updraft-release.json', { kind: 'status', status: 500, times: Infinity });
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    const outcome = await page.evaluate(async () => {
      const u = (window as unknown as { updraft: { controlled: Promise<void>; ready(): Promise<unknown> } }).updraft;
      const settle = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string; message?: string }) => `rejected ${e.code}: ${e.message}`);
      return { controlled: await settle(u.controlled), ready: await settle(u.ready()) };
    });
    expect(outcome.controlled).toMatch(/^rejected internal: the service worker .* did not install/);
    expect(outcome.ready).toBe(outcome.controlled);
    expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
  } finally {
    await h.close();
  }
});
