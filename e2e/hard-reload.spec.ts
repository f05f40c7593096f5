/**
 * A hard reload (Shift+Reload, DevTools' "Disable cache" or "Bypass for network", CDP
 * `Page.reload({ ignoreCache: true })`) loads the page past the service worker: the registration
 * keeps its active worker, nothing installs or waits, and no worker controls the page until its
 * next ordinary navigation (the spec's "force bypass" of the reload). workbox-window's `messageSW`
 * waits for a worker of its own that never comes there: `updraft/client` must not.
 */
import type { Page } from '@playwright/test';
import { test, expect } from './kit/index.js';
import { visitV1 } from './support/fault-kit.js';
import { Harness } from './support/harness.js';

/** Reloads `page` as Shift+Reload does, and checks that no worker controls it after. */
async function hardReload(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const loaded = page.waitForEvent('load');
  await cdp.send('Page.reload', { ignoreCache: true });
  await loaded;
  await cdp.detach();
  const seen = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return { controlled: navigator.serviceWorker.controller !== null, active: registration?.active?.state, installing: registration?.installing ?? null, waiting: registration?.waiting ?? null };
  });
  expect(seen).toEqual({ controlled: false, active: 'activated', installing: null, waiting: null });
}

type Outcome = { resolved: unknown } | { rejected: string; message: string } | 'still waiting after 10 s';

/** How each of the page client's promises settled within 10 s, called on the demo's `window.updraft`. */
function settleAll(page: Page): Promise<Record<'controlled' | 'ready' | 'release', Outcome>> {
  return page.evaluate(async () => {
    const settle = (p: Promise<unknown>): Promise<Outcome> => Promise.race([
      p.then((value) => ({ resolved: value }), (e: { name?: string; code?: string; message?: string }) => ({ rejected: `${e.name}:${e.code}`, message: String(e.message) })),
      new Promise<Outcome>((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
    ]);
    const u = window.updraft!;
    const [controlled, ready, release] = await Promise.all([settle(u.controlled), settle(u.ready()), settle(u.release())]);
    return { controlled, ready, release };
  });
}

test('after a hard reload the page is told at once it runs from the network: controlled rejects (code uncontrolled), ready() confirms nothing, requests reach the active worker, events reach the page, and applyUpdate() reloads it controlled into the update', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    await hardReload(page);
    await expect(page.locator('#version')).toHaveText('1.0.0');

    expect(await settleAll(page)).toEqual({
      controlled: { rejected: 'UpdraftError:uncontrolled', message: expect.stringMatching(/bypassing the service worker \(a hard reload.*the next ordinary navigation/) },
      // No release served this page: its ready() confirms none, whatever the worker watches.
      ready: { resolved: { release: null, result: 'network' } },
      release: { resolved: expect.objectContaining({ release: null, version: null, active: v1.id, staged: null, pending: null }) },
    });
    await expect(page.locator('#status')).toHaveText(/^Service worker: not controlling this page \(.*hard reload/);
    await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'network');
    await expect(page.locator('#release')).toHaveText('none');

    // The page's own checkNow() reaches the worker, and the worker's broadcasts reach the page.
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    expect(await page.evaluate(() => window.updraft!.checkNow())).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    await expect.poll(() => page.evaluate(() => window.updraft!.pending)).toEqual({ release: v2.id, version: '2.0.0', policy: 'prompt' });
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'update-ready');

    // Applying activates v2 and reloads the page, an ordinary navigation: the worker serves it.
    const reloaded = page.waitForEvent('load');
    void page.evaluate(() => window.updraft!.applyUpdate()).catch(() => {});
    await reloaded;
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
    await expect(page.locator('#status')).toHaveText('Service worker: controlling this page');
    expect((await updraft.state()).active).toBe(v2.id);
  } finally {
    await h.close();
  }
});

test('after a hard reload with nothing staged, applyUpdate() reloads the page into the active release (it ran the network\'s bytes), and a page that loads while an update waits hears of it', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    await hardReload(page);
    await page.evaluate(() => void ((window as { marker?: number }).marker = 1));
    const reloaded = page.waitForEvent('load');
    const outcome = page.evaluate(() => window.updraft!.applyUpdate().then(() => 'resolved', (e: { code?: string }) => String(e.code)));
    await reloaded;
    void outcome.catch(() => {}); // the page (and its promise) went away with the reload
    expect(await page.evaluate(() => (window as { marker?: number }).marker)).toBeUndefined();
    await expect(page.locator('#release')).toHaveText(v1.id);
    await expect(page.locator('#status')).toHaveText('Service worker: controlling this page');

    // Staged while this page ran, hard reloaded after: the worker's hello still announces it.
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    await updraft.checkNow();
    await updraft.sync();
    await updraft.waitForState((s) => s.staged === v2.id, {}, 'v2 staged');
    await hardReload(page);
    await expect.poll(() => page.evaluate(() => window.updraft!.pending)).toEqual({ release: v2.id, version: '2.0.0', policy: 'prompt' });
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'update-ready');
  } finally {
    await h.close();
  }
});
