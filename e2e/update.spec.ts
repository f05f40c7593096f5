import type { Page } from '@playwright/test';
import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';

test('an update downloads only the changed parts from the CDN, activates on the next navigation and works offline', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const changed = changedParts(v1, v2);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThan(v2.assets.length);

    await updraft.updateTo(v2.id);

    // Only the parts v1 lacks, each once, all from the CDN; the origin served no part.
    expect([...h.cdn!.traffic.blobs()].sort()).toEqual(changed);
    expect(h.traffic.blobs()).toEqual([]);
    // The open page keeps its release until it navigates.
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');

    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);

    await h.stopAll();
    const offline = await page.reload();
    expect(offline?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '2.0.0');
  } finally {
    await h.close();
  }
});

test('with the CDN down, parts come from the origin', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    await h.cdn!.stop();
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    expect([...h.traffic.blobs()].sort()).toEqual(changedParts(v1, v2));
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('a page open on v1 still loads its lazy chunk after v2 activated in another tab', async ({ page, updraft, context }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const tabB = await context.newPage();
    await tabB.goto(h.url);
    await updraft.updateTo(v2.id);
    await tabB.reload();
    await expect(tabB.locator('#version')).toHaveText('2.0.0');

    // Tab A loaded v1 before the switch: its lazy chunk is v1's, served from the SW even with the servers gone.
    await h.stopAll();
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await tabB.locator('#load-about').click();
    await expect(tabB.locator('#lazy')).toHaveAttribute('data-version', '2.0.0');
  } finally {
    await h.close();
  }
});

/** Sets the iframe `#frame`'s src (making it first), resolved once its document loaded. */
const frameTo = (page: Page, url: string) =>
  page.evaluate((src) => new Promise<void>((resolve) => {
    let f = document.getElementById('frame') as HTMLIFrameElement | null;
    if (!f) {
      f = document.createElement('iframe');
      f.id = 'frame';
      document.body.append(f);
    }
    f.onload = () => resolve();
    f.src = src;
  }), url);

test('an iframe a page on v1 opened stays on v1 when it navigates after v2 activated; a new iframe gets v2 (its navigation names no client)', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    await frameTo(page, `${h.url}?frame=1`);
    const frame = page.frameLocator('#frame');
    await expect(frame.locator('#version')).toHaveText('1.0.0');
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);

    // The page sets the iframe's src again, with every server gone: Chromium names the document the
    // frame held (pinned to v1), and the new document and its lazy chunk are v1's, from the worker.
    await h.stopAll();
    await frameTo(page, `${h.url}?frame=2`);
    await expect(frame.locator('#version')).toHaveText('1.0.0');
    await frame.locator('#load-about').click();
    await expect(frame.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
    await expect(page.locator('#version')).toHaveText('1.0.0');
    // It did navigate: the document shown is the new one.
    expect(page.frames().map((f) => f.url())).toContain(`${h.url}?frame=2`);

    // The sharp edge README states: a new iframe's navigation names no client (FetchEvent.clientId
    // is empty in Chromium), so it gets the active release while its page stays on v1.
    await page.evaluate(() => document.getElementById('frame')!.remove());
    await frameTo(page, `${h.url}?frame=3`);
    await expect(frame.locator('#version')).toHaveText('2.0.0');
    const s = await updraft.state();
    expect(s.active).toBe(v2.id);
    expect(s.pins.some((p) => p.release === v1.id)).toBe(true);
  } finally {
    await h.close();
  }
});

test('a SW stopped mid-download resumes and refetches nothing already verified', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const changed = changedParts(v1, v2);
    expect(changed.length).toBeGreaterThanOrEqual(2);
    // Hold one part at the CDN so the download is mid-way when the worker is stopped.
    const held = changed[changed.length - 1]!;
    h.cdn!.faults.add(held, { kind: 'hang' });
    await updraft.message({ type: 'updraft:check-now' });
    await updraft.sync();
    await h.cdn!.faults.waitForHang();
    const others = changed.filter((s) => s !== held);
    await updraft.waitForState((s) => others.every((sha) => s.plan?.tasks.find((t) => t.sha256 === sha)?.state === 'done'), {}, 'the other parts to be verified');

    await updraft.stopWorker();
    h.cdn!.faults.releaseAll();
    await updraft.sync();
    await updraft.waitForRelease(v2.id);

    const blobs = h.cdn!.traffic.blobs();
    for (const sha of others) expect(blobs.filter((b) => b === sha)).toHaveLength(1);
    // Asked once by the stopped worker (its answer went nowhere), once by the fresh one.
    expect(blobs.filter((b) => b === held)).toHaveLength(2);
    expect(h.traffic.blobs()).toEqual([]);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('503 with Retry-After on a part: no request before that time, then the update completes', async ({ page, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const part = changedParts(v1, v2)[0]!;
    const retryAfter = 2;
    h.faults.add(part, { kind: 'status', status: 503, retryAfter });
    await updraft.checkNow();
    await updraft.sync();
    await expect.poll(() => h.traffic.count(`/v1/blobs/${part}`)).toBe(1);
    const held = await updraft.waitForState((s) => Object.keys(s.holdUntil).includes(new URL(h.url).origin), {}, 'the origin to be held');
    expect(held.active).toBe(v1.id);
    // Nudge the SW repeatedly while the hold lasts: it must not ask again early.
    for (let i = 0; i < 5; i++) {
      await updraft.sync();
      await page.waitForTimeout(200);
    }
    await updraft.waitForRelease(v2.id, { timeout: 20_000 });
    const times = h.traffic.requests.filter((r) => r.path === `/v1/blobs/${part}`).map((r) => r.at);
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(retryAfter * 1000 - 50);
  } finally {
    await h.close();
  }
});
