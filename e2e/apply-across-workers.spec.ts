import { test, expect } from './kit/index.js';
import { Harness, changedParts } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';

test('applyUpdate() before the release is staged survives the worker being stopped: the next worker finishes the plan, and its `activated` reloads the page', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    const cut = changedParts(v1, v2).at(-1)!;
    h.cdn!.faults.add(cut, { kind: 'hang' });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2.id });
    await updraft.sync();
    await h.cdn!.faults.waitForHang();
    // The user consents while a part is still on its way: the worker would answer once v2 is active.
    await page.evaluate(() => void (window as unknown as { updraft: { applyUpdate(): Promise<void> } }).updraft.applyUpdate());
    await updraft.waitForState((s) => s.plan?.applied === true, {}, 'the consent to be stored');
    // That worker is stopped before it can answer; the next one runs the plan to its end.
    await updraft.stopWorker();
    h.cdn!.faults.releaseAll();
    await updraft.sync();
    await updraft.waitForRelease(v2.id);
    // The page reloaded into v2 on the new worker's `activated`, not on a reply it never got.
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});
