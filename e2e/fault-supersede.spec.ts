/** Fault matrix, supersede: a newer release published while the older plan is half done. */
import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { blobPath, partsOf, publishDerived, storedParts, visitV1 } from './support/fault-kit.js';

test('a newer release published mid-download supersedes the plan: its request for a part the new one lacks is aborted, shared parts reused, no leftovers', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const mainChunk = v2.assets.find((a) => a.path.startsWith('assets/index-') && a.path.endsWith('.js'))!;
    const changed = changedParts(v1, v2);
    // v2's html is v2's alone; its main chunk will be shared with v3.
    const held = v2.assets.find((a) => a.path === 'index.html')!.sha256;
    h.cdn!.faults.add(held, { kind: 'hang' });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    await h.cdn!.faults.waitForHang();
    const others = changed.filter((s) => s !== held);
    await updraft.waitForState((s) => others.every((sha) => s.plan?.tasks.find((t) => t.sha256 === sha)?.state === 'done'), {}, 'v2 half done');

    const v3 = await publishDerived(h, '3.0.0', '2.0.0', mainChunk.path);
    expect(changedParts(v2, v3)).not.toContain(mainChunk.sha256);
    await updraft.updateTo(v3.id);
    // The superseded plan's request for a part v3 lacks was aborted when v3's plan came (the CDN
    // saw its connection close unanswered); its answer goes out only now, to nobody.
    await expect.poll(() => h.cdn!.traffic.aborted).toEqual([blobPath(held)]);
    h.cdn!.faults.releaseAll();

    // The shared chunk was fetched once, by the v2 plan; v3 fetched only what it alone has.
    expect(h.cdn!.traffic.count(blobPath(mainChunk.sha256))).toBe(1);
    for (const sha of changedParts(v1, v3).filter((s) => s !== mainChunk.sha256)) expect(h.cdn!.traffic.count(blobPath(sha)), sha).toBe(1);

    // No leftovers: the parts are exactly what active (v3), previous (v1) and this page's pin (v1) need.
    // The late part may land between two reads (stored, then collected at once): the parts in
    // the cache and the worker's own count are read together until both are exactly `keep`.
    const keep = partsOf(v1, v3);
    await expect.poll(async () => ({ stored: Object.keys(await storedParts(page)).sort(), counted: (await updraft.state()).parts }), { timeout: 10_000 })
      .toEqual({ stored: keep, counted: keep.length });
    const s = await updraft.state();
    expect(s.plan?.to).toBe(v3.id);
    expect([...s.releases].sort()).toEqual([v1.id, v3.id].sort());

    await page.reload();
    await expect(page.locator('#version')).toHaveText('3.0.0');
  } finally {
    await h.close();
  }
});
