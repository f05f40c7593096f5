/** Fault matrix, storage: a quota too small for the update. */
import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';
import type { CheckInRequest } from '../protocol/index.js';

test('storage quota too small: the plan fails with `quota`, is reported, the running release keeps working, and check-ins carry the quota', async ({ page, updraft, context }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const biggest = Math.max(...v2.assets.filter((a) => changedParts(v1, v2).includes(a.sha256)).map((a) => a.size));
    const origin = new URL(h.url).origin;
    const cdp = await context.newCDPSession(page);
    const { usage } = await cdp.send('Storage.getUsageAndQuota', { origin });
    // Room for bookkeeping, not for the largest changed part.
    const quota = usage + Math.floor(biggest / 4);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: quota });
    expect(await cdp.send('Storage.getUsageAndQuota', { origin })).toMatchObject({ quota, overrideActive: true });

    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    // The server sees the client's storage.estimate(). Chromium enforces the CDP override on writes
    // but keeps answering estimate() from its disk-based figure, so only presence is checked here.
    const caps = (h.checkIns.at(-1)!.body as CheckInRequest).caps;
    expect(caps.quota).toBeGreaterThan(0);
    expect(caps.usage).toBeGreaterThan(0);

    await updraft.sync();
    const s = await updraft.waitForState((x) => x.plan?.tasks.some((t) => t.state === 'failed') ?? false, {}, 'a task to fail');
    const failed = s.plan!.tasks.filter((t) => t.state === 'failed');
    // Parts run concurrently: every one refused fails, and the plan fails once.
    for (const t of failed) expect(t.lastError).toMatch(/QuotaExceededError/);
    expect(s.active).toBe(v1.id);
    expect(s.staged).toBeNull();
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => `${r.event}:${r.code}`))
      .toEqual(['failed:quota']);

    // No retry storm: the failed plan stays failed while the worker is woken again.
    const asked = h.cdn!.traffic.blobs().length;
    await updraft.sync();
    await updraft.waitForState((x) => x.plan?.tasks.some((t) => t.state === 'failed') ?? false);
    expect(h.cdn!.traffic.blobs()).toHaveLength(asked);

    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
  } finally {
    await h.close();
  }
});
