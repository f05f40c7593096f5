/**
 * Deltas in Chromium: a changed chunk arrives as a Fossil delta over the part the client holds,
 * built and verified in the service worker; a corrupt delta or a missing base falls back to the
 * whole part, and the update completes either way.
 */
import { test, expect } from './kit/index.js';
import type { CheckInResponse, FetchTask, ReleaseManifest } from '../protocol/index.js';
import { Harness, changedParts } from './support/harness.js';
import { blobPath, storedParts, visitV1 } from './support/fault-kit.js';

/** The fetch tasks the server plans for a client on `from`: asks it directly, as the SW would. */
async function plannedFetches(h: Harness, from: ReleaseManifest): Promise<FetchTask[]> {
  const res = await fetch(new URL('v1/check-in', h.url), {
    method: 'POST',
    body: JSON.stringify({ client: 'probe-client-0000000000', app: from.app, channel: 'stable', release: from.id, caps: { sync: true, periodicSync: false, swIds: true } }),
  });
  const body = (await res.json()) as CheckInResponse;
  if (body.status !== 'update') throw new Error(`expected an update plan, got ${body.status}`);
  return body.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch');
}

const deltaPath = (t: FetchTask) => new URL(t.deltas![0]!.url).pathname;
/** The demo's deltas are tens of bytes: the server would inline them. These specs need them served, to count and break. */
const URL_DELTAS = { deltas: { inlineBytes: 0 } };
/** The server's defaults: small deltas inline. */
const DEFAULT_DELTAS = { deltas: {} };

test('a changed chunk comes as a delta from the CDN: the whole part is never fetched, the built bytes verify, the release activates', async ({ page, updraft }) => {
  const h = await Harness.start(URL_DELTAS);
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const fetches = await plannedFetches(h, v1);
    const withDelta = fetches.filter((f) => f.deltas);
    expect(withDelta.length, 'the demo 1.0.0 → 2.0.0 changes at least one chunk enough for a delta').toBeGreaterThan(0);
    for (const f of withDelta) {
      expect(f.deltas!.map((d) => new URL(d.url).origin)).toEqual([new URL(h.cdn!.url).origin, new URL(h.url).origin]);
      expect(v1.assets.some((a) => a.sha256 === f.deltas![0]!.from)).toBe(true);
    }
    h.traffic.clear();
    await updraft.updateTo(v2.id);

    for (const f of withDelta) {
      expect(h.cdn!.traffic.count(deltaPath(f))).toBe(1);
      expect(h.cdn!.traffic.count(blobPath(f.sha256)) + h.traffic.count(blobPath(f.sha256))).toBe(0);
    }
    // Parts without a delta still came whole, from the CDN.
    const whole = changedParts(v1, v2).filter((sha) => !withDelta.some((f) => f.sha256 === sha));
    expect(h.cdn!.traffic.blobs().sort()).toEqual(whole);
    const stored = await storedParts(page);
    for (const [key, actual] of Object.entries(stored)) expect(actual, key).toBe(key);
    for (const f of withDelta) expect(stored[f.sha256]).toBe(f.sha256);
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => `${r.event}:${r.code ?? '-'}`).sort())
      .toEqual(['activated:-', 'downloaded:-']);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('small deltas travel inside the plan: no request for the changed chunk at all, the built bytes verify', async ({ page, updraft }) => {
  const h = await Harness.start(DEFAULT_DELTAS);
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const inline = (await plannedFetches(h, v1)).filter((f) => f.deltas);
    expect(inline.length).toBeGreaterThan(0);
    for (const f of inline) expect(f.deltas!.map((d) => d.url.slice(0, 37))).toEqual(['data:application/octet-stream;base64,']);
    h.traffic.clear();
    await updraft.updateTo(v2.id);

    for (const f of inline) expect(h.cdn!.traffic.count(blobPath(f.sha256)) + h.traffic.count(blobPath(f.sha256))).toBe(0);
    expect(h.cdn!.traffic.count(/^\/v1\/deltas\//) + h.traffic.count(/^\/v1\/deltas\//)).toBe(0);
    const stored = await storedParts(page);
    for (const f of inline) expect(stored[f.sha256]).toBe(f.sha256);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('a corrupt delta at every source: rejected and reported, the whole part comes from the CDN, the update completes', async ({ page, updraft }) => {
  const h = await Harness.start(URL_DELTAS);
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const f = (await plannedFetches(h, v1)).find((t) => t.deltas)!;
    h.cdn!.faults.add(deltaPath(f), { kind: 'corrupt', times: Infinity });
    h.faults.add(deltaPath(f), { kind: 'corrupt', times: Infinity });
    h.traffic.clear();
    await updraft.updateTo(v2.id);

    // Each delta source once (CDN, then origin), then the whole part from the first source.
    expect(h.cdn!.traffic.count(deltaPath(f))).toBe(1);
    expect(h.traffic.count(deltaPath(f))).toBe(1);
    expect(h.cdn!.traffic.count(blobPath(f.sha256))).toBe(1);
    expect(h.traffic.count(blobPath(f.sha256))).toBe(0);
    expect((await storedParts(page))[f.sha256]).toBe(f.sha256);
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => `${r.event}:${r.code ?? '-'}:${r.count}`).sort())
      .toEqual(['activated:-:1', 'downloaded:-:1', 'rejected:content:2']);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});

test('the base part is gone from the client: no delta request, the whole part, nothing reported as bad', async ({ page, updraft }) => {
  const h = await Harness.start(URL_DELTAS);
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const f = (await plannedFetches(h, v1)).find((t) => t.deltas)!;
    const base = f.deltas![0]!.from;
    // As if the browser evicted it: the worker must not count on a base it no longer holds.
    expect(await page.evaluate(async (sha) => (await caches.open('updraft-parts')).delete(new URL(`__updraft/parts/${sha}`, location.href).href), base)).toBe(true);
    h.traffic.clear();
    await updraft.updateTo(v2.id);

    // Other parts may still come as deltas: only this one's base is gone.
    expect(h.cdn!.traffic.count(deltaPath(f)) + h.traffic.count(deltaPath(f))).toBe(0);
    expect(h.cdn!.traffic.count(blobPath(f.sha256))).toBe(1);
    expect((await storedParts(page))[f.sha256]).toBe(f.sha256);
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id).map((r) => `${r.event}:${r.code ?? '-'}`).sort())
      .toEqual(['activated:-', 'downloaded:-']);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});
