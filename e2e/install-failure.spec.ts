import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { PART_IDLE_TIMEOUT_MS } from '../sw/timed-fetch.js';

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

    // Requests have no worker to answer them either: each rejects with the same error at once, not
    // with `transport` after the 90 s request timeout (a "Check for updates" button that hangs).
    const requests = await page.evaluate(async () => {
      const u = (window as unknown as { updraft: { checkNow(): Promise<unknown>; release(): Promise<unknown>; applyUpdate(): Promise<unknown> } }).updraft;
      const settle = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string; message?: string }) => `rejected ${e.code}: ${e.message}`);
      const late = new Promise<string>((r) => setTimeout(() => r('no answer within 5 s'), 5_000));
      return Promise.all([u.checkNow(), u.release(), u.applyUpdate()].map((p) => Promise.race([settle(p), late])));
    });
    expect(requests).toEqual([outcome.controlled, outcome.controlled, outcome.controlled]);
  } finally {
    await h.close();
  }
});

test('a bootstrap file that stalls at first install fails the install at the part deadline, not minutes later; the page runs online, and the next visit installs', async ({ page, updraft }) => {
  test.setTimeout(PART_IDLE_TIMEOUT_MS + 60_000);
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    // The page loads this chunk only on a click: the worker's precache request is the one that hangs.
    const lazy = v1.assets.find((a) => a.path.startsWith('assets/about-'))!;
    h.faults.add('/' + lazy.path, { kind: 'hang', times: Infinity });
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await h.faults.waitForHang();
    const hungAt = Date.now();
    // Without a deadline the install event stays pending until Chromium ends it (about 5 minutes):
    // the bound here is the deadline and some slack, well short of that.
    const outcome = await page.evaluate(async (bound) => {
      const u = (window as unknown as { updraft: { controlled: Promise<void> } }).updraft;
      const late = new Promise<string>((r) => setTimeout(() => r(`still installing after ${bound} ms`), bound));
      return Promise.race([late, u.controlled.then(() => 'controlled', (e: { code?: string; message?: string }) => `rejected ${e.code}: ${e.message}`)]);
    }, PART_IDLE_TIMEOUT_MS + 20_000);
    const after = Date.now() - hungAt;
    expect(outcome).toMatch(/^rejected internal: the service worker .* did not install/);
    // The watchdog started with the request, a moment before the server saw it hang.
    expect(after).toBeGreaterThan(PART_IDLE_TIMEOUT_MS - 5_000);
    expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();

    // The page runs from the network meanwhile, its lazy chunk included once the host answers.
    h.faults.clear();
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');

    // The next visit registers again and the worker installs: offline support after all.
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    expect((await updraft.waitForActivated()).active).toBe(v1.id);
    await h.stopAll();
    const offline = await page.reload();
    expect(offline?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('1.0.0');
  } finally {
    await h.close();
  }
});
