/**
 * Release-bound readiness in Chromium: a release whose entry throws before `ready()` is rolled
 * back once its boot deadline passes (the worker stopped in between), reported as `boot-failed` and
 * never reinstalled; a healthy release confirmed by `ready()` stays. The `ready-*` builds bake a
 * `bootTimeoutMs` of READINESS_BOOT_TIMEOUT_MS into their `sw.js`.
 */
import { test, expect, type UpdraftDriver } from './kit/index.js';
import { READINESS_BOOT_TIMEOUT_MS } from './support/builds.js';
import { Harness } from './support/harness.js';

/** Waits, in Node, until a deadline the SW stated has passed (same machine, same clock). */
async function pastDeadline(deadline: number): Promise<void> {
  const wait = deadline - Date.now() + 250;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** The first visit on v1; its page's ready() tells the SW this app confirms its boots. */
async function firstVisit(h: Harness, page: import('@playwright/test').Page, updraft: UpdraftDriver) {
  const v1 = await h.publish('ready-1.0.0');
  await page.goto(h.url);
  await updraft.waitForRelease(v1.id);
  await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'none-pending');
  return v1;
}

test('a release whose entry throws before ready() is rolled back, reported, and not installed again', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await firstVisit(h, page, updraft);
    const broken = await h.publish('ready-2.0.0-broken');
    await updraft.checkNow();
    await updraft.sync();
    const activated = await updraft.waitForRelease(broken.id);
    // Activated, but no clock yet: it starts at the first page the new release serves.
    expect(activated.boot).toEqual({ release: broken.id, previous: v1.id, deadline: null });

    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.reload();
    await expect.poll(() => errors).toContainEqual(expect.stringContaining('broken on purpose'));
    await expect(page.locator('#version')).toHaveText('');
    const watched = await updraft.waitForState((s) => s.boot?.deadline != null, {}, 'the boot clock to start');
    const deadline = watched.boot!.deadline!;
    expect(deadline - Date.now()).toBeLessThanOrEqual(READINESS_BOOT_TIMEOUT_MS);

    // The browser stops the worker: the deadline must outlive it, and the next wake-up acts on it.
    await updraft.stopWorker();
    await pastDeadline(deadline);
    const back = await updraft.waitForRelease(v1.id);
    expect(back.bad).toEqual([broken.id]);
    expect(back.boot).toBeNull();
    expect(back.log.join('\n')).toContain('boot check failed');

    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#release')).toHaveText(v1.id);
    await expect
      .poll(async () => (await h.status()).reportCounts.filter((r) => r.release === broken.id && r.event === 'boot-failed'))
      .toEqual([expect.objectContaining({ code: 'boot_failed', count: 1 })]);

    // The server still offers the bad release: the worker does not take it again.
    expect(await updraft.checkNow()).toEqual({ result: 'current' });
    expect(h.checkIns.at(-1)?.body).toMatchObject({ release: v1.id });
    await updraft.sync();
    const after = await updraft.waitForPlanSettled();
    expect(after.active).toBe(v1.id);
    expect(after.staged).toBeNull();
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');

    // A different release is taken, and its page confirms it.
    const v3 = await h.publish('ready-3.0.0');
    await updraft.updateTo(v3.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('3.0.0');
    await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'confirmed');
  } finally {
    await h.close();
  }
});

test('a healthy release confirmed by ready() stays active past the timeout', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await firstVisit(h, page, updraft);
    const v3 = await h.publish('ready-3.0.0');
    await updraft.checkNow();
    await updraft.sync();
    await updraft.waitForRelease(v3.id);
    const started = Date.now();
    await page.reload();
    await expect(page.locator('#version')).toHaveText('3.0.0');
    await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'confirmed');
    expect((await updraft.state()).boot).toBeNull();

    // Well past the deadline the first navigation set, through a worker restart and a wake-up.
    await updraft.stopWorker();
    await pastDeadline(started + READINESS_BOOT_TIMEOUT_MS);
    await updraft.sync();
    await page.reload();
    await expect(page.locator('#version')).toHaveText('3.0.0');
    const s = await updraft.waitForPlanSettled();
    expect(s.active).toBe(v3.id);
    expect(s.bad).toEqual([]);
    expect(s.boot).toBeNull();
    expect((await h.status()).reportCounts.filter((r) => r.event === 'boot-failed')).toEqual([]);
  } finally {
    await h.close();
  }
});

test('a page whose document the network answered (entry part lost, refetch failing) does not confirm the watched release; a page it served does', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await firstVisit(h, page, updraft);
    const v3 = await h.publish('ready-3.0.0');
    await updraft.checkNow();
    await updraft.sync();
    await updraft.waitForRelease(v3.id);
    // v3's entry part lost from the worker's cache, and its refetch by hash failing.
    const entry = v3.assets.find((a) => a.path === v3.entry)!;
    const evicted = await page.evaluate(async (sha) => {
      const cache = await caches.open('updraft-parts');
      const key = (await cache.keys()).find((r) => r.url.endsWith(sha));
      return key ? cache.delete(key) : false;
    }, entry.sha256);
    expect(evicted).toBe(true);
    h.faults.add(entry.sha256, { kind: 'status', status: 503, times: Infinity });

    // The network answers the document; the page, pinned to v3, calls ready(): it does not count.
    await page.reload();
    await expect(page.locator('#version')).toHaveText('3.0.0');
    await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'network');
    const s = await updraft.state();
    expect(s.boot).toEqual({ release: v3.id, previous: v1.id, deadline: null });
    expect(s.pins).toContainEqual(expect.objectContaining({ release: v3.id, network: true }));

    // Once the worker can answer from v3 again, the page it serves confirms it.
    h.faults.clear();
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-updraft-ready', 'confirmed');
    expect((await updraft.state()).boot).toBeNull();
  } finally {
    await h.close();
  }
});
