/**
 * The upgrade every device takes when a team moves to Updraft 0.6: its worker is the previous
 * version's (protocol 0.5, `LEGACY_BUILD`, built by global setup from that commit's source), which
 * does not say `caps.swIds` and accepts only release ids of the app's files. A release built since
 * (its id covers sw.js) must reach it through the browser's worker update, not through a plan the
 * old worker would refuse: README, "Since 0.6" under `updraft/protocol`.
 */
import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import { releaseIdForm, type ReleaseManifest } from '../protocol/index.js';
import { rolloutBucket } from '../server/index.js';
import { expect, test, UpdraftDriver } from './kit/index.js';
import { LEGACY_BUILD, LEGACY_NEXT_BUILD, type DemoVersion } from './support/builds.js';
import { Harness, changedParts } from './support/harness.js';
import { expectCollected, partsOf, storedParts } from './support/fault-kit.js';

interface CheckInBody {
  client: string;
  release: string | null;
  staged?: string | null;
  caps: { swIds?: boolean };
}

const bodies = (h: Harness) => h.checkIns.map((c) => c.body as CheckInBody);

/** What the origin serves at `path` (no service worker in between), as a sha256. */
async function servedSha(h: Harness, path: string): Promise<string> {
  const res = await fetch(new URL(path, h.url));
  expect(res.status).toBe(200);
  return createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex');
}

function assetSha(m: ReleaseManifest, path: string): string {
  const a = m.assets.find((x) => x.path === path);
  if (!a) throw new Error(`${path} is not in release ${m.id}`);
  return a.sha256;
}

/** Reports the server counts as failures (anything but a plan's progress). */
async function failureReports(h: Harness) {
  return (await h.status()).reportCounts.filter((r) => r.event !== 'downloaded' && r.event !== 'activated');
}

/**
 * Publishes the 0.5 build of 1.0.0, opens the app and waits until the old worker runs it and has
 * checked in; returns the release and the client id the old worker stored.
 */
async function visitLegacy(page: Page, updraft: UpdraftDriver, h: Harness): Promise<{ v1: ReleaseManifest; client: string }> {
  const v1 = await h.publish(LEGACY_BUILD);
  expect(await releaseIdForm(v1)).toBe('files');
  await page.goto(h.url);
  await updraft.waitForRelease(v1.id);
  await expect(page.locator('#version')).toHaveText('1.0.0');
  // The old worker checks in after activating: it does not say swIds, as no worker before 0.6 does.
  await expect.poll(() => h.checkIns.length).toBeGreaterThan(0);
  for (const b of bodies(h)) expect(b.caps).not.toHaveProperty('swIds');
  const client = bodies(h)[0]!.client;
  h.traffic.clear();
  h.cdn?.traffic.clear();
  h.checkIns.length = 0;
  return { v1, client };
}

test('at 100 % a 0.5 worker is told current; at the next navigation the browser installs the new worker, which keeps the device, says swIds and moves it to 2.0.0', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const { v1, client } = await visitLegacy(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    expect(await releaseIdForm(v2)).toBe('sw');

    // The old worker asks: nothing it would refuse, so no plan and no failure report.
    expect(await updraft.checkNow()).toEqual({ result: 'current' });
    expect(bodies(h).at(-1)).toMatchObject({ client, release: v1.id });
    expect(bodies(h).at(-1)!.caps).not.toHaveProperty('swIds');
    const before = await updraft.state();
    expect(before.active).toBe(v1.id);
    expect(before.plan).toBeNull();
    expect(await failureReports(h)).toEqual([]);
    // At 100 % everything served is 2.0.0's, its worker included.
    expect(await servedSha(h, 'sw.js')).toBe(v2.sw!.sha256);

    // The navigation: the old worker answers it from 1.0.0, the browser's update check fetches
    // /sw.js and installs 2.0.0's worker over the old worker's state.
    h.checkIns.length = 0;
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.locator('#release')).toHaveText(v1.id);
    expect(h.traffic.count('/sw.js')).toBeGreaterThan(0);
    // The kit's reads wait while the new worker does (README, sharp edges: a read the old worker
    // gets while Chromium stops it restarts it, and the activation then waits on it).
    await updraft.waitForRelease(v2.id);
    // The new worker read the old one's state: same client, on the old release, and it says swIds.
    const asked = bodies(h).filter((b) => b.caps.swIds === true);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked[0]).toMatchObject({ client, release: v1.id });
    expect(bodies(h).filter((b) => b.caps.swIds !== true)).toEqual([]);
    // And its parts: the plan fetched only what 1.0.0 lacks, from the CDN.
    expect([...h.cdn!.traffic.blobs()].sort()).toEqual(changedParts(v1, v2));
    expect(h.traffic.blobs()).toEqual([]);
    const s = await updraft.state();
    expect(s.log.some((l) => l.includes(`install: release ${v1.id} already active, nothing to precache`))).toBe(true);

    // The open page keeps working on 1.0.0 (its lazy chunk), then the next navigation runs 2.0.0.
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
    await expect.poll(async () => (await h.status()).reportCounts.some((r) => r.release === v2.id && r.event === 'activated')).toBe(true);
    expect(await failureReports(h)).toEqual([]);

    // Offline, from the new worker.
    await h.stopAll();
    const offline = await page.reload();
    expect(offline?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('during a partial rollout /sw.js bridges: the target\'s worker over the fallback\'s files; the device\'s new worker then follows the percentage', async ({ page, updraft, browser }) => {
  const h = await Harness.start();
  try {
    const { v1, client } = await visitLegacy(page, updraft, h);
    // Buckets are deterministic (client id, target id): a percentage just below this client's
    // bucket leaves it outside, one above takes it in. A target whose bucket leaves room for both
    // (not 0, not 99): one of two, both new-form releases.
    const pick = (['2.0.0', '3.0.0'] as const satisfies readonly DemoVersion[])
      .map((version) => ({ version, bucket: rolloutBucket(client, h.manifest(version).id) }))
      .find((c) => c.bucket > 0 && c.bucket < 99);
    if (!pick) throw new Error(`client ${client} has bucket 0 or 99 for both 2.0.0 and 3.0.0: no partial rollout leaves it outside and then inside`);
    const target = await h.publish(pick.version, { percent: pick.bucket });
    expect(await releaseIdForm(target)).toBe('sw');

    expect(await updraft.checkNow()).toEqual({ result: 'current' });
    expect(bodies(h).at(-1)!.caps).not.toHaveProperty('swIds');
    // The bridge: the target's worker, the fallback's (1.0.0's) files and manifest.
    expect(await servedSha(h, 'sw.js')).toBe(target.sw!.sha256);
    expect(await servedSha(h, '')).toBe(assetSha(v1, v1.entry));
    expect(((await (await fetch(new URL('updraft-release.json', h.url))).json()) as ReleaseManifest).id).toBe(v1.id);

    // The navigation installs the target's worker; outside the rollout it is told current and
    // stays on 1.0.0.
    h.checkIns.length = 0;
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect.poll(() => bodies(h).some((b) => b.caps.swIds === true)).toBe(true);
    expect(bodies(h).find((b) => b.caps.swIds === true)).toMatchObject({ client, release: v1.id });
    expect(await updraft.checkNow()).toEqual({ result: 'current' });
    const outside = await updraft.state();
    expect(outside.active).toBe(v1.id);
    expect(outside.plan).toBeNull();
    expect(await failureReports(h)).toEqual([]);

    // A first visit meanwhile (another browser): the bridged worker installs over 1.0.0's files
    // (an id of the files only, which it accepts) and says swIds.
    const other = await browser.newContext();
    try {
      const first = await other.newPage();
      const firstDriver = new UpdraftDriver(first);
      h.checkIns.length = 0;
      await first.goto(h.url);
      await expect(first.locator('#release')).toHaveText(v1.id);
      const installed = await firstDriver.waitForActivated();
      expect(installed.log.some((l) => l.includes(`install: release ${v1.id} (1.0.0)`) && l.includes('active'))).toBe(true);
      await expect.poll(() => bodies(h).length).toBeGreaterThan(0);
      for (const b of bodies(h)) expect(b.caps.swIds).toBe(true);
    } finally {
      await other.close();
    }

    // One more percent takes it in: the new worker gets the plan; the bridge still serves.
    await h.rollout({ percent: pick.bucket + 1 });
    await updraft.updateTo(target.id);
    expect(await servedSha(h, 'sw.js')).toBe(target.sw!.sha256);
    await page.reload();
    await expect(page.locator('#version')).toHaveText(target.version);
    await expect(page.locator('#release')).toHaveText(target.id);
    expect(await failureReports(h)).toEqual([]);
  } finally {
    await h.close();
  }
});

test('a 0.5 worker replaced halfway through a plan: the new worker takes over its state and the channel\'s newer release replaces the unfinished plan', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const { v1, client } = await visitLegacy(page, updraft, h);
    // 1.1.0, built by 0.5 too: the old worker gets its plan and downloads all but its page, which
    // both sources fail for now (a server error: the task waits for its retry, the plan stays).
    // Not a hung request: Chromium activates the next worker only once the active one's events
    // have ended, and a hung download holds its sync event (in the field, until its timeout).
    const v11 = await h.publish(LEGACY_NEXT_BUILD);
    const held = assetSha(v11, v11.entry);
    for (const faults of [h.faults, h.cdn!.faults]) faults.add(held, { kind: 'status', status: 500, times: Infinity });
    expect(await updraft.checkNow()).toEqual({ result: 'update', release: v11.id });
    await updraft.sync();
    const others = changedParts(v1, v11).filter((sha) => sha !== held);
    const half = await updraft.waitForState(
      (s) => others.every((sha) => s.plan?.tasks.find((t) => t.sha256 === sha)?.state === 'done') && (s.plan?.tasks.find((t) => t.sha256 === held)?.attempts ?? 0) > 0,
      {},
      '1.1.0 half done',
    );
    expect(half.plan?.to).toBe(v11.id);

    // Then the team upgrades Updraft and publishes 2.0.0; the next navigation brings its worker.
    const v2 = await h.publish('2.0.0');
    h.checkIns.length = 0;
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    // The browser installs the new worker, which activates once the old one has no event in flight
    // and then checks in.
    await updraft.waitForRelease(v2.id);
    const asked = bodies(h).filter((b) => b.caps.swIds === true);
    expect(asked[0]).toMatchObject({ client, release: v1.id });
    // It read the old worker's plan (the new plan superseded it, not a second one beside it), and
    // collected what only 1.1.0 needed: the parts are 1.0.0's (active before, and this page's) and 2.0.0's.
    const s = await updraft.state();
    expect(s.plan?.to).toBe(v2.id);
    expect(s.log.some((l) => l.includes(`plan ${half.plan!.planId} superseded by ${s.plan!.planId}`))).toBe(true);
    expect([...s.releases].sort()).toEqual([v1.id, v2.id].sort());
    await expect.poll(async () => Object.keys(await storedParts(page)).sort()).toEqual(partsOf(v1, v2));
    for (const faults of [h.faults, h.cdn!.faults]) faults.clear();

    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
    await expect.poll(async () => (await h.status()).reportCounts.some((r) => r.release === v2.id && r.event === 'activated')).toBe(true);
    expect(await failureReports(h)).toEqual([]);
  } finally {
    await h.close();
  }
});

test('a 0.5 worker with a release staged for the prompt is replaced: the new worker stages the channel\'s newer release in its place, and the user applies that one', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const { v1, client } = await visitLegacy(page, updraft, h);
    // 1.1.0, built by 0.5, with the prompt policy: the old worker downloads and stages it, and the
    // page offers to apply it.
    const v11 = await h.publish(LEGACY_NEXT_BUILD, { activation: 'prompt' });
    await page.locator('#check').click();
    await updraft.sync();
    await updraft.waitForState((s) => s.staged === v11.id, {}, '1.1.0 staged by the 0.5 worker');

    // Before the user applies it, the team upgrades Updraft and publishes 2.0.0, also for the prompt.
    const v2 = await h.publish('2.0.0', { activation: 'prompt' });
    h.checkIns.length = 0;
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.0.0');
    // The new worker read what the old one staged and says so in its check-in: the server's plan
    // to 2.0.0 supersedes it.
    const moved = await updraft.waitForState((s) => s.plan?.to === v2.id || s.staged === v2.id, {}, 'a plan to 2.0.0 in the new worker');
    expect(moved.active).toBe(v1.id);
    const asked = bodies(h).filter((b) => b.caps.swIds === true);
    expect(asked[0]).toMatchObject({ client, release: v1.id, staged: v11.id });
    await updraft.sync();
    const staged = await updraft.waitForState((s) => s.staged === v2.id, {}, '2.0.0 staged in place of 1.1.0');
    expect(staged.active).toBe(v1.id);
    // 1.1.0 is collected as soon as 2.0.0 is staged, before any apply: its record and the parts
    // only it had go; what 1.0.0 (active, and this page's pin) and 2.0.0 need stays.
    const collected = await expectCollected(page, updraft, v11, [v1, v2], '1.1.0 collected once 2.0.0 is staged');
    expect([collected.active, collected.staged]).toEqual([v1.id, v2.id]);

    // The user applies the update the page offers: 2.0.0, never 1.1.0.
    await page.reload();
    await expect(page.locator('#apply')).toBeVisible();
    await page.locator('#apply').click();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    const after = await updraft.waitForRelease(v2.id);
    // And stays so: nothing brought back the release the user never applied.
    expect(after.releases).not.toContain(v11.id);
    await expect.poll(async () => (await h.status()).reportCounts.some((r) => r.release === v2.id && r.event === 'activated')).toBe(true);
    expect(await failureReports(h)).toEqual([]);
  } finally {
    await h.close();
  }
});
