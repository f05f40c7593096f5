/**
 * A release whose only change is its worker (protocol 0.6: release ids cover sw.js). Step 2 of a
 * key rotation, the worker now trusting the next key too, with no change to the app: before 0.6
 * it had 1.0.0's id and publish refused it (409 release_conflict), so the new worker never shipped.
 */
import { test, expect } from './kit/index.js';
import { ROTATED_BUILD } from './support/builds.js';
import { Harness } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';

test('a worker-only release publishes and reaches a device on 1.0.0: its plan fetches nothing, and at the next navigation the browser installs the new worker', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const rotated = await h.publish(ROTATED_BUILD);
    expect(rotated.assets).toEqual(v1.assets);
    expect(rotated.sw!.sha256).not.toBe(v1.sw!.sha256);
    expect(rotated.id).not.toBe(v1.id);

    await updraft.updateTo(rotated.id);
    // Every part is the device's already.
    expect(h.traffic.blobs()).toEqual([]);
    expect(h.cdn!.traffic.blobs()).toEqual([]);
    // The worker that asked says it takes ids that cover sw.js; the server offers it nothing otherwise.
    expect(h.checkIns.map((c) => (c.body as { caps: { swIds?: boolean } }).caps.swIds)).toContain(true);

    // The browser checks /sw.js at a navigation, gets the rotated worker and installs it over the
    // stored releases: that worker logs that the release it found active needs no precache.
    h.traffic.clear();
    await page.reload();
    await expect(page.locator('#release')).toHaveText(rotated.id);
    await expect
      .poll(async () => (await updraft.state()).log.some((l) => l.includes(`install: release ${rotated.id} already active, nothing to precache`)), { timeout: 15_000 })
      .toBe(true);
    expect(h.traffic.count('/sw.js')).toBeGreaterThan(0);
    // The new worker runs the release as the old one did.
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#release')).toHaveText(rotated.id);
  } finally {
    await h.close();
  }
});
