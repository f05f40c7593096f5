import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { CheckInResponse, expandPlan, PlanDocument, planDocHash, planFromRef, type ChannelState, type CheckInRequest, type FetchTask, type ReleaseManifest } from '../protocol/index.js';
import { chooseTarget, decide, dropsHeld, fallbackRelease, personalize, planTemplate, spreadNotBefore, type KnownRelease, type PlannerInput } from './planner.js';
import { rolloutBucket, spreadOffset } from './rollout-bucket.js';
import { planDoc, refAnswer, renderCurrent, renderTemplate, renderUpdate, signedPart, updateAnswer } from './answer-json.js';
import { createHash } from 'node:crypto';
import { compressAnswer, joinBody } from './compress-answer.js';

const sha = (c: string) => c.repeat(64);
const A = '000000000000000a';
const B = '000000000000000b';
const UNKNOWN = '00000000000000ff';

function release(id: string, parts: Record<string, string>): ReleaseManifest {
  return {
    id, app: 'demo', version: id.slice(-1), createdAt: '2024-01-01T00:00:00.000Z', entry: 'index.html',
    assets: Object.entries(parts).map(([path, c]) => ({ path, sha256: sha(c), size: 10, type: 'text/plain' })),
  };
}
const releases = new Map<string, KnownRelease>([
  [A, { manifest: release(A, { 'index.html': '1', 'assets/a.js': '2', 'assets/shared.css': '3' }), seq: 1 }],
  // b.js and b-copy.js have the same bytes: one fetch.
  [B, { manifest: release(B, { 'index.html': '4', 'assets/b.js': '5', 'assets/b-copy.js': '5', 'assets/shared.css': '3' }), seq: 2 }],
]);
const channel = (o: Partial<ChannelState> = {}): ChannelState => ({
  name: 'stable', app: 'demo', release: B, previous: A, percent: 100, activation: 'next-navigation', paused: false, pausedReason: null, minimum: null, updatedAt: 0, ...o,
});
const client = (o: Partial<CheckInRequest> = {}): CheckInRequest => ({
  client: 'client-0001', app: 'demo', channel: 'stable', release: A, caps: { sync: true, periodicSync: false, swIds: true }, ...o,
});
const NOW = 1_700_000_000_000;
const input = (o: Partial<PlannerInput> = {}): PlannerInput => ({
  client: client(), channel: channel(), releases, origin: 'https://o.test/updraft/', cdn: [], now: NOW,
  options: { checkInInterval: 3600, spreadMs: 0, planTtlMs: 86_400_000 }, ...o,
});
const fetched = (d: ReturnType<typeof decide>) =>
  d.status === 'update' ? d.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch').map((t) => t.sha256) : null;

describe('decide: pause, roll back, minimum', () => {
  const C = '000000000000000c';
  const three = new Map(releases).set(C, { manifest: release(C, { 'index.html': '6', 'assets/shared.css': '3' }), seq: 3 });
  const cases: { name: string; input: PlannerInput; to: string | null; activation?: ChannelState['activation']; rollback?: boolean }[] = [
    { name: 'paused: a client on previous gets no plan to the target', input: input({ channel: channel({ paused: true }) }), to: null },
    { name: 'paused: a client on the target stays', input: input({ channel: channel({ paused: true }), client: client({ release: B }) }), to: null },
    { name: 'paused: a client with the target staged stays', input: input({ channel: channel({ paused: true }), client: client({ release: A, staged: B }) }), to: null },
    { name: 'paused: a first install gets previous', input: input({ channel: channel({ paused: true }), client: client({ release: null }) }), to: A, activation: 'next-navigation' },
    { name: 'paused, inside the bucket: no plan to the target', input: input({ channel: channel({ paused: true, percent: 50 }), bucket: () => 0 }), to: null },
    { name: 'paused, no previous: a first install gets nothing', input: input({ channel: channel({ paused: true, previous: null }), client: client({ release: null }) }), to: null },
    { name: 'resumed: the target again', input: input({ channel: channel({ paused: false }) }), to: B, activation: 'next-navigation' },
    { name: 'rolled back: a client on the newer release gets the older one', input: input({ channel: channel({ release: A, previous: B }), client: client({ release: B }) }), to: A, activation: 'next-navigation', rollback: true },
    { name: 'rolled back: a client on an older release with the newer one staged gets a rollback directive (its worker\'s floor is the staged one)', input: input({ channel: channel({ release: B, previous: C }), releases: three, client: client({ release: A, staged: C }) }), to: B, activation: 'next-navigation', rollback: true },
    { name: 'moved forward: no rollback directive for a client on an older release', input: input({ channel: channel({ release: C, previous: B }), releases: three, client: client({ release: A, staged: B }) }), to: C, activation: 'next-navigation' },
    { name: 'rolled back: a client already on the older release stays', input: input({ channel: channel({ release: A, previous: B }), client: client({ release: A }) }), to: null },
    { name: 'minimum above the client: immediate', input: input({ channel: channel({ release: C, previous: B, minimum: B }), releases: three }), to: C, activation: 'immediate' },
    { name: 'minimum equal to the client: channel activation', input: input({ channel: channel({ release: C, previous: B, minimum: B }), releases: three, client: client({ release: B }) }), to: C, activation: 'next-navigation' },
    { name: 'minimum below the client: channel activation', input: input({ channel: channel({ release: C, previous: B, minimum: A, activation: 'prompt' }), releases: three, client: client({ release: B }) }), to: C, activation: 'prompt' },
    { name: 'minimum, first install: channel activation', input: input({ channel: channel({ release: C, previous: B, minimum: C }), releases: three, client: client({ release: null }) }), to: C, activation: 'next-navigation' },
    { name: 'minimum, unknown client release: channel activation', input: input({ channel: channel({ release: C, previous: B, minimum: C }), releases: three, client: client({ release: UNKNOWN }) }), to: C, activation: 'next-navigation' },
    { name: 'minimum = target, client older: immediate', input: input({ channel: channel({ release: C, previous: B, minimum: C }), releases: three }), to: C, activation: 'immediate' },
    { name: 'minimum above previous, outside the rollout: the minimum, immediate', input: input({ channel: channel({ release: C, previous: A, minimum: B, percent: 10 }), releases: three, bucket: () => 50 }), to: B, activation: 'immediate' },
    { name: 'minimum above previous, inside the rollout: the target', input: input({ channel: channel({ release: C, previous: A, minimum: B, percent: 10 }), releases: three, bucket: () => 5 }), to: C, activation: 'immediate' },
    { name: 'minimum above previous, outside, on the minimum: stays', input: input({ channel: channel({ release: C, previous: A, minimum: B, percent: 10 }), releases: three, bucket: () => 50, client: client({ release: B }) }), to: null },
    { name: 'minimum = target, outside the rollout: the target', input: input({ channel: channel({ release: C, previous: A, minimum: C, percent: 0 }), releases: three }), to: C, activation: 'immediate' },
    { name: 'minimum = target, paused: previous, not the target', input: input({ channel: channel({ release: C, previous: A, minimum: C, paused: true }), releases: three, client: client({ release: null }) }), to: A, activation: 'next-navigation' },
    { name: 'minimum below previous, outside: previous', input: input({ channel: channel({ release: C, previous: B, minimum: A, percent: 0 }), releases: three, client: client({ release: null }) }), to: B, activation: 'next-navigation' },
    // B is the release rolled back from: never offered (below). The minimum, newer than the target, neither.
    { name: 'minimum newer than the target (left from before a roll back): nothing', input: input({ channel: channel({ release: A, previous: B, minimum: C, percent: 0 }), releases: three, client: client({ release: null }) }), to: null },
    // A partial roll back (C → B at 50 %): C, the release rolled back from, is offered to nobody.
    { name: 'partial roll back, outside: a first install is not offered the release rolled back from', input: input({ channel: channel({ release: B, previous: C, percent: 50 }), releases: three, bucket: () => 90, client: client({ release: null }) }), to: null },
    { name: 'partial roll back, outside: a client on an older release is not offered it either', input: input({ channel: channel({ release: B, previous: C, percent: 50 }), releases: three, bucket: () => 90, client: client({ release: A }) }), to: null },
    { name: 'partial roll back, outside: a client on the newer release stays (the roll back is partial)', input: input({ channel: channel({ release: B, previous: C, percent: 50 }), releases: three, bucket: () => 90, client: client({ release: C }) }), to: null },
    { name: 'partial roll back, inside: a client on the newer release goes back', input: input({ channel: channel({ release: B, previous: C, percent: 50 }), releases: three, bucket: () => 10, client: client({ release: C }) }), to: B, activation: 'next-navigation', rollback: true },
    { name: 'partial roll back, outside, a minimum below the target: the minimum', input: input({ channel: channel({ release: B, previous: C, percent: 0, minimum: A }), releases: three, client: client({ release: null }) }), to: A, activation: 'next-navigation' },
    { name: 'rolled back and paused: a first install is not offered the release rolled back from', input: input({ channel: channel({ release: B, previous: C, paused: true }), releases: three, client: client({ release: null }) }), to: null },
    { name: 'fallback older than the client: no downgrade', input: input({ channel: channel({ release: C, previous: A, percent: 0 }), releases: three, client: client({ release: B }) }), to: null },
  ];
  it.each(cases)('$name', ({ input: i, to, activation, rollback }) => {
    const d = decide(i);
    expect(d.status === 'update' ? d.plan.to : null).toBe(to);
    if (d.status === 'update') {
      expect(d.plan.activation).toBe(activation);
      // Only a move to a lower sequence is a rollback directive, which a SW needs to accept it.
      expect(d.plan.rollback).toBe(rollback ?? false);
      expect(v.safeParse(CheckInResponse, d).success).toBe(true);
    }
  });
});

describe('decide', () => {
  const cases: { name: string; input: PlannerInput; status: 'current' | 'update'; to?: string; fetch?: string[] }[] = [
    { name: 'up to date', input: input({ client: client({ release: B }) }), status: 'current' },
    { name: 'new release: only missing parts, duplicates once', input: input(), status: 'update', to: B, fetch: [sha('4'), sha('5')] },
    { name: 'unknown current release: every part', input: input({ client: client({ release: UNKNOWN }) }), status: 'update', to: B, fetch: [sha('4'), sha('5'), sha('3')] },
    { name: 'first install (release null): every part', input: input({ client: client({ release: null }) }), status: 'update', to: B, fetch: [sha('4'), sha('5'), sha('3')] },
    { name: 'staged equals target', input: input({ client: client({ staged: B }) }), status: 'current' },
    { name: 'unknown channel', input: input({ channel: null }), status: 'current' },
    { name: 'channel of another app', input: input({ channel: channel({ app: 'other' }) }), status: 'current' },
    { name: 'target release unknown to the server', input: input({ channel: channel({ release: UNKNOWN }) }), status: 'current' },
    { name: 'percent 0: stays on previous', input: input({ channel: channel({ percent: 0 }) }), status: 'current' },
    { name: 'percent 0, client on nothing: gets previous', input: input({ channel: channel({ percent: 0 }), client: client({ release: null }) }), status: 'update', to: A },
    { name: 'outside rollout, no previous: current', input: input({ channel: channel({ percent: 0, previous: null }), client: client({ release: null }) }), status: 'current' },
    { name: 'bucket inside 50%', input: input({ channel: channel({ percent: 50 }), bucket: () => 49 }), status: 'update', to: B },
    { name: 'bucket outside 50%', input: input({ channel: channel({ percent: 50 }), bucket: () => 50 }), status: 'current' },
    { name: 'outside rollout, on target already (percentage lowered): stays', input: input({ channel: channel({ percent: 50 }), bucket: () => 99, client: client({ release: B }) }), status: 'current' },
    { name: 'percent 0, on target already: stays', input: input({ channel: channel({ percent: 0 }), client: client({ release: B }) }), status: 'current' },
    { name: 'outside rollout, target staged: stays', input: input({ channel: channel({ percent: 50 }), bucket: () => 99, client: client({ release: A, staged: B }) }), status: 'current' },
  ];
  it.each(cases)('$name', ({ input: i, status, to, fetch }) => {
    const d = decide(i);
    expect(d.status).toBe(status);
    expect(d.nextCheckIn).toBe(3600);
    expect(v.safeParse(CheckInResponse, d).success).toBe(true);
    if (d.status === 'update') {
      expect(d.plan.to).toBe(to);
      if (fetch) expect(fetched(d)).toEqual(fetch);
    }
  });

  it('orders tasks: fetches, install after all of them, reports after install and activate', () => {
    const d = decide(input());
    if (d.status !== 'update') throw new Error('expected update');
    const { plan } = d;
    expect(plan).toMatchObject({ app: 'demo', from: A, to: B, toSeq: 2, issuedAt: NOW, expiresAt: NOW + 86_400_000, activation: 'next-navigation' });
    // The client runs A, which the server knows: the manifest goes as a patch that rebuilds B's exactly.
    expect(plan.release).toBeUndefined();
    expect(plan.releasePatch).toMatchObject({ base: A, removed: expect.any(Array), changed: expect.any(Array) });
    expect(plan.releasePatch!.changed.length).toBeLessThan(releases.get(B)!.manifest.assets.length);
    const rebuilt = expandPlan(plan, releases.get(A)!.manifest)!.release;
    expect(rebuilt).toEqual({ ...releases.get(B)!.manifest, assets: [...releases.get(B)!.manifest.assets].sort((x, y) => (x.path < y.path ? -1 : 1)) });
    expect(expandPlan(plan, releases.get(B)!.manifest)).toBeNull(); // another base: no manifest
    // A first install, or a release the server does not know, gets the manifest whole.
    for (const release of [null, UNKNOWN]) {
      const first = decide(input({ client: client({ release }) }));
      expect(first.status === 'update' && first.plan.release).toBe(releases.get(B)!.manifest);
      expect(first.status === 'update' && first.plan.releasePatch).toBeUndefined();
    }
    expect(plan.tasks.map((t) => t.id)).toEqual([`fetch:${sha('4')}`, `fetch:${sha('5')}`, 'install', 'report:downloaded', 'activate', 'report:activated']);
    expect(plan.tasks.find((t) => t.id === 'install')!.after).toEqual([`fetch:${sha('4')}`, `fetch:${sha('5')}`]);
    expect(plan.tasks.find((t) => t.id === 'report:activated')).toMatchObject({ kind: 'report', event: 'activated', after: ['activate'] });
    expect(decide(input()).status === 'update' && (decide(input()) as typeof d).plan.planId).toBe(plan.planId);
  });

  it('lists CDN sources first, origin last', () => {
    const d = decide(input({ cdn: ['https://cdn1.test/x/', 'https://cdn2.test'] }));
    const task = d.status === 'update' ? (d.plan.tasks[0] as FetchTask) : null;
    expect(task?.sources).toEqual([
      `https://cdn1.test/x/v1/blobs/${sha('4')}`,
      `https://cdn2.test/v1/blobs/${sha('4')}`,
      `https://o.test/updraft/v1/blobs/${sha('4')}`,
    ]);
  });

  it('spreads notBefore within [now, now + spreadMs), deterministically per client', () => {
    const spreadMs = 60_000;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const id = `client-${String(i).padStart(4, '0')}`;
      const d = decide(input({ client: client({ client: id }), options: { checkInInterval: 3600, spreadMs, planTtlMs: 1000 } }));
      if (d.status !== 'update') throw new Error('expected update');
      const at = (d.plan.tasks[0] as FetchTask).notBefore;
      expect(at).toBeGreaterThanOrEqual(NOW);
      expect(at).toBeLessThan(NOW + spreadMs);
      expect(at).toBe(NOW + spreadOffset(id, B, spreadMs));
      seen.add(at);
    }
    expect(seen.size).toBeGreaterThan(150);
  });

  it('rollout buckets are sticky per (client, release) and track the percentage', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `client-${i.toString().padStart(5, '0')}`);
    for (const percent of [0, 50, 100]) {
      const updated = ids.filter((id) => {
        const d = decide(input({ client: client({ client: id, release: A }), channel: channel({ percent }) }));
        return d.status === 'update';
      });
      if (percent === 0) expect(updated).toHaveLength(0);
      if (percent === 100) expect(updated).toHaveLength(ids.length);
      if (percent === 50) {
        expect(updated.length).toBeGreaterThan(900);
        expect(updated.length).toBeLessThan(1100);
        // Sticky: asking again gives the same answer, and everyone inside has bucket < 50.
        expect(updated.every((id) => rolloutBucket(id, B) < 50)).toBe(true);
        const again = ids.filter((id) => decide(input({ client: client({ client: id }), channel: channel({ percent }) })).status === 'update');
        expect(again).toEqual(updated);
      }
    }
    // Raising the percentage only adds clients.
    const at10 = ids.filter((id) => rolloutBucket(id, B) < 10);
    const at50 = new Set(ids.filter((id) => rolloutBucket(id, B) < 50));
    expect(at10.every((id) => at50.has(id))).toBe(true);
  });
});

describe('fallbackRelease', () => {
  const C = '000000000000000c';
  const three = new Map(releases).set(C, { manifest: release(C, { 'index.html': '6', 'assets/shared.css': '3' }), seq: 3 });
  it.each([
    { name: 'rolled out: previous', ch: channel({ release: C, previous: B, percent: 50 }), want: B },
    { name: 'rolled back, partial: none (the release rolled back from is offered to nobody)', ch: channel({ release: B, previous: C, percent: 50 }), want: null },
    { name: 'rolled back, then the percentage lowered: none', ch: channel({ release: A, previous: C, percent: 10 }), want: null },
    { name: 'rolled back, paused: none', ch: channel({ release: B, previous: C, paused: true }), want: null },
    { name: 'rolled back, a minimum below the target: the minimum', ch: channel({ release: B, previous: C, percent: 50, minimum: A }), want: A },
    { name: 'rolled back, the target as minimum, paused: none', ch: channel({ release: B, previous: C, paused: true, minimum: B }), want: null },
  ])('$name', ({ ch, want }) => expect(fallbackRelease(ch, three)).toBe(want));
});

describe('dropsHeld: a `current` answer withdraws what the client holds (protocol 0.5)', () => {
  const C = '000000000000000c';
  const three = new Map(releases).set(C, { manifest: release(C, { 'index.html': '6', 'assets/shared.css': '3' }), seq: 3 });
  const cases: { name: string; input: PlannerInput; status: 'current' | 'update'; drop: boolean; to?: string }[] = [
    { name: 'rolled back, the newer release staged: dropped', input: input({ channel: channel({ release: A, previous: B }), client: client({ release: A, staged: B }) }), status: 'current', drop: true },
    { name: 'rolled back, a plan to the newer release pending: dropped', input: input({ channel: channel({ release: A, previous: B }), client: client({ release: A, pending: B }) }), status: 'current', drop: true },
    { name: 'paused, a plan to the target pending: dropped', input: input({ channel: channel({ paused: true }), client: client({ release: A, pending: B }) }), status: 'current', drop: true },
    { name: 'paused, the target staged: kept (as chooseTarget keeps it)', input: input({ channel: channel({ paused: true }), client: client({ release: A, staged: B }) }), status: 'current', drop: false },
    { name: 'percentage lowered below the client, a plan pending: dropped', input: input({ channel: channel({ percent: 50 }), bucket: () => 99, client: client({ release: A, pending: B }) }), status: 'current', drop: true },
    { name: 'percentage lowered below the client, the target staged: kept', input: input({ channel: channel({ percent: 50 }), bucket: () => 99, client: client({ release: A, staged: B }) }), status: 'current', drop: false },
    { name: 'on the target, a plan to another release pending: dropped', input: input({ channel: channel({ release: C, previous: B }), releases: three, client: client({ release: C, pending: B }) }), status: 'current', drop: true },
    { name: 'on the target, another release staged: dropped', input: input({ channel: channel({ release: C, previous: B }), releases: three, client: client({ release: C, staged: B }) }), status: 'current', drop: true },
    { name: 'unknown channel, a plan pending: dropped', input: input({ channel: null, client: client({ release: A, pending: B }) }), status: 'current', drop: true },
    { name: 'current, nothing held: no drop', input: input({ client: client({ release: B }) }), status: 'current', drop: false },
    { name: 'current, held fields null (a worker that holds nothing): no drop', input: input({ client: client({ release: B, staged: null, pending: null }) }), status: 'current', drop: false },
    { name: 'an update answer never drops: the new plan replaces the pending one', input: input({ client: client({ release: A, pending: B }) }), status: 'update', drop: false, to: B },
    { name: 'an update over an older staged release supersedes it', input: input({ channel: channel({ release: C, previous: B }), releases: three, client: client({ release: A, staged: B }) }), status: 'update', drop: false, to: C },
  ];
  it.each(cases)('$name', ({ input: i, status, drop, to }) => {
    const d = decide(i);
    expect(d.status).toBe(status);
    expect(v.safeParse(CheckInResponse, d).success).toBe(true);
    if (d.status === 'current') {
      expect(d.drop === true).toBe(drop);
      expect(dropsHeld(i.client, i.channel)).toBe(drop);
    } else {
      expect(d).not.toHaveProperty('drop');
      expect(d.status === 'update' && d.plan.to).toBe(to);
    }
  });
});

describe('chooseTarget: a release whose id covers sw.js only for a worker that says caps.swIds (protocol 0.6)', () => {
  // B (and C) built since 0.6: their ids cover sw.js. A built before.
  const C = '000000000000000c';
  const forms = new Map(releases).set(B, { ...releases.get(B)!, idCoversSw: true })
    .set(C, { manifest: release(C, { 'index.html': '6', 'assets/shared.css': '3' }), seq: 3, idCoversSw: true });
  const old = { sync: true, periodicSync: false, compactPlans: true, planRefs: true };
  const cases: { name: string; input: PlannerInput; to: string | null; drop?: boolean; rollback?: boolean }[] = [
    { name: 'a worker with the cap: offered the new-form target', input: input({ releases: forms }), to: B },
    { name: 'a worker without it: current, not a plan it would refuse', input: input({ releases: forms, client: client({ caps: old }) }), to: null },
    { name: 'caps.swIds false is no cap', input: input({ releases: forms, client: client({ caps: { ...old, swIds: false } }) }), to: null },
    { name: 'without it, a first install: current', input: input({ releases: forms, client: client({ release: null, caps: old }) }), to: null },
    { name: 'without it, inside a partial rollout: current', input: input({ releases: forms, channel: channel({ percent: 50 }), bucket: () => 0, client: client({ caps: old }) }), to: null },
    { name: 'without it, a plan pending to the target (made before): dropped', input: input({ releases: forms, client: client({ caps: old, pending: B }) }), to: null, drop: true },
    { name: 'without it, an old-form target: offered', input: input({ client: client({ caps: old }) }), to: B },
    { name: 'without it, a minimum of the new form: current', input: input({ releases: forms, channel: channel({ release: C, previous: B, minimum: C }), client: client({ caps: old }) }), to: null },
    { name: 'rolled back to an old-form release, a worker without the cap: offered, a rollback', input: input({ releases: forms, channel: channel({ release: A, previous: B }), client: client({ release: B, caps: old }) }), to: A, rollback: true },
    { name: 'rolled back to an old-form release, a worker with it: offered, a rollback', input: input({ releases: forms, channel: channel({ release: A, previous: B }), client: client({ release: B }) }), to: A, rollback: true },
    { name: 'rolled back to a new-form release, a worker with it: offered, a rollback', input: input({ releases: forms, channel: channel({ release: B, previous: C }), client: client({ release: C }) }), to: B, rollback: true },
    { name: 'rolled back to a new-form release, a worker without it: current', input: input({ releases: forms, channel: channel({ release: B, previous: C }), client: client({ release: C, caps: old }) }), to: null },
  ];
  it.each(cases)('$name', ({ input: i, to, drop, rollback }) => {
    const d = decide(i);
    expect(v.safeParse(CheckInResponse, d).success).toBe(true);
    expect(chooseTarget(i.client, i.channel, i.bucket, i.releases)).toBe(to);
    expect(d.status === 'update' ? d.plan.to : null).toBe(to);
    if (d.status === 'update') expect(d.plan.rollback).toBe(rollback ?? false);
    if (d.status === 'current') expect(d.drop === true).toBe(drop ?? false);
  });
});

describe('decide = cached template + per-client part', () => {
  it('the server\'s rendered JSON equals decide() for every case, with and without moved sources', () => {
    for (const c of [client(), client({ release: null }), client({ release: UNKNOWN }), client({ client: 'another-client' })]) {
      const i = input({ client: c, cdn: ['https://cdn1.test/x/'], options: { checkInInterval: 60, spreadMs: 30_000, planTtlMs: 1000 } });
      const d = decide(i);
      const t = planTemplate({ app: 'demo', channel: i.channel!, from: c.release, to: B, releases, origin: i.origin, cdn: i.cdn });
      if (d.status !== 'update' || !t) throw new Error('expected update');
      const notBefore = spreadNotBefore(t, c.client, NOW, 30_000);
      expect(JSON.parse(renderUpdate(renderTemplate(t), signedPart(renderTemplate(t), NOW, i.options, null), { client: c.client, now: NOW, notBefore, options: i.options }))).toEqual(d);
      const moved = personalize(t, { client: c.client, now: NOW, notBefore, sourceFirst: t.fetches.map(() => 1), options: i.options });
      expect(JSON.parse(renderUpdate(renderTemplate(t), signedPart(renderTemplate(t), NOW, i.options, null), { client: c.client, now: NOW, notBefore, sourceFirst: t.fetches.map(() => 1), options: i.options }))).toEqual(moved);
      expect((moved.status === 'update' && (moved.plan.tasks[0] as FetchTask).sources[0])).toMatch(/^https:\/\/o\.test\//);
      // The compact form (for workers with `caps.compactPlans`) is the same plan once the schema
      // expands it, in fewer bytes.
      for (const [p, want] of [[{ client: c.client, now: NOW, notBefore, options: i.options }, d], [{ client: c.client, now: NOW, notBefore, sourceFirst: t.fetches.map(() => 1), options: i.options }, moved]] as const) {
        const full = renderUpdate(renderTemplate(t), signedPart(renderTemplate(t), NOW, i.options, null), p);
        const compact = renderUpdate(renderTemplate(t), signedPart(renderTemplate(t), NOW, i.options, null), p, '', true);
        expect(JSON.parse(compact)).toHaveProperty('plan.fetch.bases', ['https://cdn1.test/x/', 'https://o.test/updraft/']);
        expect(JSON.parse(compact)).not.toHaveProperty('plan.tasks');
        expect(v.parse(CheckInResponse, JSON.parse(compact))).toEqual(want);
        expect(v.parse(CheckInResponse, JSON.parse(full))).toEqual(want);
        expect(compact.length).toBeLessThan(full.length * 0.8);
        // As gzip spliced from the template's deflated fragment: the tail with one time for all
        // parts, the manifest alone with a time (and a first source) per part.
        const r = renderTemplate(t);
        const answer = updateAnswer(r, signedPart(r, NOW, i.options, null), p, '', true);
        expect(answer.splice).toBe(p.sourceFirst ? 'body' : 'tail');
        const gz = compressAnswer(answer, 'gzip, br');
        expect(gz.headers['content-encoding']).toBe('gzip');
        expect(gunzipSync(gz.body as Uint8Array).toString()).toBe(compact);
        // Uncompressed, the answer with one time is the client's text and the template's shared
        // bytes, the same Buffer for the next client; joined, it is the text.
        const plain = compressAnswer(answer, undefined);
        expect(plain.headers).toEqual({ 'content-type': 'application/json', vary: 'Accept-Encoding' });
        expect(Buffer.from(joinBody(plain.body)).toString()).toBe(compact);
        if (p.sourceFirst) expect(typeof plain.body).toBe('string');
        else {
          const other = compressAnswer(updateAnswer(r, signedPart(r, NOW, i.options, null), { ...p, client: 'another-client' }, '', true), undefined).body;
          if (typeof plain.body === 'string' || plain.body instanceof Uint8Array || typeof other === 'string' || other instanceof Uint8Array) throw new Error('expected split answers');
          expect(other.shared).toBe(plain.body.shared);
          expect(plain.body.own.length).toBeLessThan(compact.length / 3);
        }
      }
    }
    expect(JSON.parse(renderCurrent(60))).toEqual(decide(input({ client: client({ release: B }), options: { checkInInterval: 60, spreadMs: 0, planTtlMs: 1 } })));
  });

  it('an answer by reference and its plan document are the same plan, in a few hundred bytes', () => {
    for (const c of [client(), client({ release: null }), client({ release: UNKNOWN })]) {
      const i = input({ client: c, cdn: ['https://cdn1.test/x/'], options: { checkInInterval: 60, spreadMs: 30_000, planTtlMs: 1000 } });
      const t = planTemplate({ app: 'demo', channel: i.channel!, from: c.release, to: B, releases, origin: i.origin, cdn: i.cdn })!;
      const spread = spreadNotBefore(t, c.client, NOW, 30_000);
      const cases = [
        { client: c.client, now: NOW, notBefore: spread, options: i.options },
        { client: c.client, now: NOW, notBefore: spread, sourceFirst: t.fetches.map((_, k) => k % 2), options: i.options },
        // Capacity planning: a time per part.
        { client: c.client, now: NOW, notBefore: t.fetches.map((_, k) => NOW + 1000 * k), options: i.options },
      ];
      for (const p of cases) {
        const r = renderTemplate(t);
        const doc = planDoc(r, 'stable')!;
        expect(doc.sha256).toBe(createHash('sha256').update(doc.bytes).digest('hex'));
        expect(planDocHash(doc.path)).toBe(doc.sha256);
        expect(doc.path).toBe(`v1/plans/demo/stable/${c.release ?? '-'}/${B}/${doc.sha256}`);
        // One document per template, whoever asks.
        expect(planDoc(r, 'stable')).toBe(doc);
        const text = refAnswer(r, doc, signedPart(r, NOW, i.options, null), p);
        const answer = v.parse(CheckInResponse, JSON.parse(text));
        if (answer.status !== 'update-ref') throw new Error('expected update-ref');
        const plan = planFromRef(answer.ref, v.parse(PlanDocument, JSON.parse(doc.bytes.toString())));
        expect({ status: 'update', plan, nextCheckIn: answer.nextCheckIn }).toEqual(personalize(t, p));
        // The path names the document by app, channel, both releases and hash: ~320 bytes unsigned.
        expect(text.length).toBeLessThan(p.sourceFirst || p.notBefore[1] !== p.notBefore[0] ? 450 : 350);
      }
    }
  });
});
