/** Fault matrix, sources: a CDN that answers 404 or lies about a part's bytes, and bytes wrong everywhere. */
import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { blobPath, storedParts, visitV1 } from './support/fault-kit.js';

test('the CDN answers 404 for one part: that part comes from the origin, the others from the CDN', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const changed = changedParts(v1, v2);
    const missing = changed[0]!;
    h.cdn!.faults.add(missing, { kind: 'status', status: 404, times: Infinity });
    await updraft.updateTo(v2.id);

    expect(h.cdn!.traffic.blobs().sort()).toEqual(changed);
    expect(h.traffic.blobs()).toEqual([missing]);
    const status = await h.status();
    expect(status.reportCounts.filter((r) => r.release === v2.id && r.event === 'failed')).toEqual([]);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('the CDN serves corrupted bytes for a part: rejected, never stored, fetched from the origin, reported as a content error', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const changed = changedParts(v1, v2);
    const bad = changed[1]!;
    h.cdn!.faults.add(bad, { kind: 'corrupt', times: Infinity });
    await updraft.updateTo(v2.id);

    // Once from the CDN (rejected), then at once from the next source.
    expect(h.cdn!.traffic.count(blobPath(bad))).toBe(1);
    expect(h.traffic.blobs()).toEqual([bad]);
    // Every stored part holds exactly the bytes its key names: the corrupt copy never landed.
    const stored = await storedParts(page);
    for (const [key, actual] of Object.entries(stored)) expect(actual, key).toBe(key);
    expect(stored[bad]).toBe(bad);

    // The server hears of the bad source without the plan being called failed.
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => `${r.event}:${r.code ?? '-'}:${r.count}`).sort())
      .toEqual(['activated:-:1', 'downloaded:-:1', 'rejected:content:1']);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('a part corrupted at every source: the plan fails with `content`, reported, and the running release is untouched', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const bad = changedParts(v1, v2)[0]!;
    h.cdn!.faults.add(bad, { kind: 'corrupt', times: Infinity });
    h.faults.add(bad, { kind: 'corrupt', times: Infinity });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    const settled = await updraft.waitForState((s) => s.plan?.tasks.find((t) => t.sha256 === bad)?.state === 'failed', { timeout: 20_000 }, 'the corrupt part to fail');
    const task = settled.plan!.tasks.find((t) => t.sha256 === bad)!;
    expect(settled.plan!.tasks.find((t) => t.kind === 'install')!.state).toBe('pending');
    expect(task.lastError).toContain('content');
    expect(settled.active).toBe(v1.id);
    expect(settled.staged).toBeNull();
    // Three attempts, each source once per attempt, backed off in between.
    expect(h.cdn!.traffic.count(blobPath(bad))).toBe(3);
    expect(h.traffic.count(blobPath(bad))).toBe(3);

    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id && r.event === 'failed').map((r) => r.code))
      .toEqual(['content']);
    const stored = await storedParts(page);
    expect(stored[bad]).toBeUndefined();
    for (const [key, actual] of Object.entries(stored)) expect(actual, key).toBe(key);

    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
  } finally {
    await h.close();
  }
});
