import { PATHS, joinUrl, type ChannelState, type CheckInRequest, type CheckInResponse, type DeltaSource, type FetchTask, type PlanSignature, type ReleaseManifest, type ReleasePatch, type Task, type WirePlan, finalTasks, makeReleasePatch, sourcesWithFirst } from '../protocol/index.js';
import type { DeltaInfo } from './delta-store.js';
import { planIdFor, rolloutBucket, spreadOffset } from './rollout-bucket.js';

export interface KnownRelease {
  manifest: ReleaseManifest;
  seq: number;
  /** Its id covers `sw.js` (`StoredRelease.idCoversSw`): offered only to workers that say `caps.swIds`. @default false */
  idCoversSw?: boolean;
}

export interface PlannerOptions {
  /** Seconds until the next check-in. */
  checkInInterval: number;
  /** Downloads start at `now + [0, spreadMs)`, per client. */
  spreadMs: number;
  planTtlMs: number;
}

export interface PlannerInput {
  client: CheckInRequest;
  channel: ChannelState | null;
  /** Must hold the channel's release, previous and minimum, and the client's release when the server knows it. */
  releases: ReadonlyMap<string, KnownRelease>;
  /** Base URL of this server, ending in `/` (sources are `<origin>v1/blobs/<sha>`). */
  origin: string;
  /** CDN base URLs, tried before the origin in this order. */
  cdn: readonly string[];
  /** Server clock, epoch ms. */
  now: number;
  options: PlannerOptions;
  /** Stored deltas by the part they produce (see `TemplateInput.deltas`). @default none */
  deltas?: ReadonlyMap<string, DeltaInfo>;
  /** Rollout bucket 0-99 of this client for a target; tests pass a fixed one. @default rolloutBucket */
  bucket?: (clientId: string, releaseId: string) => number;
}

export type Decision = CheckInResponse;

/** A fetch task before a client is known: everything but `notBefore`. */
export type FetchTemplate = Omit<FetchTask, 'notBefore'>;

/**
 * The part of an update answer shared by every client moving `from → to` on one channel through
 * one origin: which parts are missing, their sources, the manifest. It is the expensive part of a
 * check-in, so the server computes it once per key and caches it (see check-in-cache.ts).
 */
export interface PlanTemplate {
  app: string;
  from: string | null;
  to: string;
  toSeq: number;
  /**
   * The plan is a signed rollback directive: `to` is older (lower seq) than the known `from`, or
   * the channel is rolled back (`to` is its release, older than its previous).
   */
  rollback: boolean;
  activation: ChannelState['activation'];
  release: ReleaseManifest;
  /** `release` as a change to `from`'s manifest, sent instead of it when the server knows `from`. */
  releasePatch: ReleasePatch | null;
  fetches: FetchTemplate[];
  /** Per fetch, the source keys parallel to its `sources`: each CDN base URL, then `'origin'`. */
  sourceKeys: string[];
}

/** Per-client inputs applied after the cache: cheap, no lookups. */
export interface Personal {
  client: string;
  now: number;
  /** One per fetch of the template, epoch ms. */
  notBefore: readonly number[];
  /** Per fetch, the index into `sources` to move first (the source its slot was booked on). @default none moved */
  sourceFirst?: readonly number[];
  options: PlannerOptions;
  /** When the plan's signed part was made, server clock (see `SignedPart`). @default now */
  issuedAt?: number;
  signatures?: PlanSignature[];
}

/** Releases by id with their seq and id form, as the planner and the check-in cache hold them (null: unknown id). */
export type ReleaseSeqs = ReadonlyMap<string, { readonly seq: number; readonly idCoversSw?: boolean } | null>;

/**
 * The release the channel was rolled back from: its `previous` when that is newer (higher seq)
 * than its release, i.e. the admin pointed it back at an older one; else null (also when either
 * seq is unknown). What `fallbackRelease`, `updraft status`, its JSON and the dashboard go by.
 */
export function rolledBackFrom(channel: Pick<ChannelState, 'release' | 'previous'>, releases: ReleaseSeqs): string | null {
  if (channel.previous === null) return null;
  const prev = releases.get(channel.previous)?.seq;
  const target = releases.get(channel.release)?.seq;
  return prev !== undefined && target !== undefined && prev > target ? channel.previous : null;
}

/**
 * The release a channel offers outside its rollout, and to everyone while paused: `previous`,
 * unless the channel's minimum is newer than `previous` (or there is none) and not newer than the
 * target. Then it is the minimum: a mandatory minimum must reach the clients the rollout leaves
 * out too, and `previous` would leave them below it. A pause still never offers the target this
 * way. Without the seqs of all three (`releases` omitted or lacking one), `previous`.
 *
 * A channel rolled back (`previous` newer than its release) offers `previous` to nobody: it is
 * the release the admin pointed the channel away from. Outside a partial roll back (or while it
 * is paused) clients stay where they are, but for the minimum when it is not newer than the
 * target (null when there is none to offer). First visits then get the target (static.ts).
 */
export function fallbackRelease(channel: ChannelState, releases?: ReleaseSeqs): string | null {
  const { minimum, previous } = channel;
  if (!releases) return previous;
  const target = releases.get(channel.release)?.seq;
  const prev = previous === null ? -Infinity : releases.get(previous)?.seq;
  const min = minimum ? releases.get(minimum)?.seq : undefined;
  if (target !== undefined && rolledBackFrom(channel, releases) !== null) {
    if (min === undefined || min > target || (channel.paused && minimum === channel.release)) return null;
    return minimum;
  }
  if (!minimum || minimum === previous) return previous;
  if (channel.paused && minimum === channel.release) return previous;
  if (min === undefined || target === undefined || prev === undefined) return previous;
  return prev < min && min <= target ? minimum : previous;
}

/**
 * Which release the channel offers this client: the rollout target inside the bucket, else the
 * fallback (`previous`, or the minimum above it: `fallbackRelease`). A paused channel offers the
 * fallback to everyone (`chooseTarget` keeps the clients already on the target where they are,
 * paused or outside a lowered percentage).
 */
export function targetFor(client: string, channel: ChannelState, bucket = rolloutBucket, releases?: ReleaseSeqs): string | null {
  if (channel.paused) return fallbackRelease(channel, releases);
  if (channel.percent >= 100) return channel.release;
  if (channel.percent <= 0) return fallbackRelease(channel, releases);
  return bucket(client, channel.release) < channel.percent ? channel.release : fallbackRelease(channel, releases);
}

/**
 * The per-client first half of `decide`: the release to offer, or null when the answer is
 * "current". `releases` (holding the channel's release, previous and minimum) lets a minimum
 * reach clients outside the rollout; without it they get `previous`.
 *
 * A worker that does not say `caps.swIds` (before protocol 0.6) is not offered a release whose id
 * covers `sw.js` (`idCoversSw` in `releases`): it would refuse the plan, and report a failure the
 * automatic pause counts, at every check-in. It stays where it is (`current`) until its browser
 * installs a newer worker, which the server's `/sw.js` hands it at its next navigation or update
 * check (static.ts, `servedWorker`); that worker says `swIds` and is offered the release then.
 * Offering it another release meanwhile (the fallback) would make it download twice.
 */
export function chooseTarget(
  client: CheckInRequest, channel: ChannelState | null, bucket?: (clientId: string, releaseId: string) => number, releases?: ReleaseSeqs,
): string | null {
  if (!channel || channel.app !== client.app) return null;
  // A client on the target stays there, also when it falls outside the rollout because the
  // percentage was lowered, or the channel was paused: neither is a roll back (pointing the
  // channel at an older release is), and moving the clients already updated back and forth would
  // make every percentage change a downgrade for some of them.
  if (client.release === channel.release || client.staged === channel.release) return null;
  const to = targetFor(client.client, channel, bucket, releases);
  if (to === null || to === client.release || to === client.staged) return null;
  if (client.caps.swIds !== true && releases?.get(to)?.idCoversSw === true) return null;
  return to;
}

/**
 * Whether a `current` answer tells the client to drop what it holds (`drop: true`, protocol 0.5):
 * a plan it has not staged yet (`pending`: the server would not have it move now, so the plan was
 * made before a pause, a lowered percentage or a roll back), or a staged release other than the
 * channel's (a roll back, or a channel pointed elsewhere, left it behind). A client staged with the
 * channel's own release keeps it, as `chooseTarget` keeps it under a pause or a lowered percentage.
 * Only for `current`: an update answer replaces the held plan anyway, and its release supersedes
 * whatever is staged.
 */
export function dropsHeld(client: CheckInRequest, channel: ChannelState | null): boolean {
  if (client.pending) return true;
  if (!client.staged) return false;
  return !channel || channel.app !== client.app || client.staged !== channel.release;
}

export interface TemplateInput {
  app: string;
  channel: ChannelState;
  /** The client's active release (null before its first install). */
  from: string | null;
  to: string;
  releases: ReadonlyMap<string, KnownRelease>;
  origin: string;
  cdn: readonly string[];
  /**
   * Stored deltas by the part they produce, from that part's predecessor in `from` (delta-match.ts).
   * A delta is offered only when `from` holds its base and it saves enough (`offerDelta`). @default none
   */
  deltas?: ReadonlyMap<string, DeltaInfo>;
}

/**
 * Pure: whether a delta is worth offering. The SW falls back to the whole part on any delta
 * failure, so a delta that saves little costs a round trip and a risk for almost nothing: it must
 * travel in at most half the bytes of the whole part, both as compressed as the server holds them.
 */
export function offerDelta(d: DeltaInfo): boolean {
  return d.wire <= 0.5 * d.wholeWire;
}

/**
 * The activation of a plan from `from`: `immediate` when `from` is older (lower seq) than the
 * channel's minimum release, else the channel's. A `from` the server does not know (or none, a
 * first install) is not compared: nothing says it is below the minimum.
 */
export function activationFor(channel: ChannelState, from: string | null, releases: ReadonlyMap<string, KnownRelease>): ChannelState['activation'] {
  const min = channel.minimum ? releases.get(channel.minimum) : undefined;
  const have = from ? releases.get(from) : undefined;
  return min && have && have.manifest.app === min.manifest.app && have.seq < min.seq ? 'immediate' : channel.activation;
}

/**
 * Pure and client-independent: the plan skeleton for `from → to`, or null when the server does not
 * know `to`, or when `to` is a fallback older than `from` (a fallback never moves a client down).
 */
export function planTemplate(input: TemplateInput): PlanTemplate | null {
  const target = input.releases.get(input.to);
  if (!target || target.manifest.app !== input.app) return null;
  const fromSeq = input.from ? input.releases.get(input.from)?.seq : undefined;
  // Only the channel's own release is a roll back directive. The fallback (`previous` or the
  // minimum) is offered to clients below it, not to pull a client on a newer release down: one
  // left outside a rollout on a release between them, or come from another channel, stays.
  if (fromSeq !== undefined && fromSeq > target.seq && input.to !== input.channel.release) return null;
  const have = new Set(input.from ? (input.releases.get(input.from)?.manifest.assets ?? []).map((a) => a.sha256) : []);
  const fetches: FetchTemplate[] = [];
  const seen = new Set<string>();
  for (const asset of target.manifest.assets) {
    if (have.has(asset.sha256) || seen.has(asset.sha256)) continue;
    seen.add(asset.sha256);
    const path = PATHS.blob(asset.sha256);
    const bases = [...input.cdn, input.origin];
    const delta = input.deltas?.get(asset.sha256);
    fetches.push({
      id: `fetch:${asset.sha256}`,
      kind: 'fetch',
      after: [],
      sha256: asset.sha256,
      size: asset.size,
      // Same order as the whole part: a CDN mirroring `v1/` serves deltas too.
      ...(delta && have.has(delta.from) && offerDelta(delta)
        ? { deltas: deltaSources(delta, asset.sha256, bases) }
        : {}),
      sources: bases.map((base) => joinUrl(base, path)),
    });
  }
  const base = input.from ? input.releases.get(input.from)?.manifest : undefined;
  return {
    releasePatch: base && base.app === target.manifest.app ? makeReleasePatch(base, target.manifest) : null,
    app: input.app, from: input.from, to: input.to, toSeq: target.seq, rollback: (fromSeq !== undefined && fromSeq > target.seq) || rolledBack(input, target.seq), activation: activationFor(input.channel, input.from, input.releases), release: target.manifest, fetches,
    sourceKeys: [...input.cdn, 'origin'],
  };
}

/**
 * Whether `to` is the release of a channel pointed back at it from a newer one. Every plan to it
 * is then a rollback directive, whatever `from`: a worker refuses a plan below the newest release
 * it holds, active or staged, and a client on an older release may have the newer one staged
 * (prompt policy), which the template (shared by every client on `from`) cannot know.
 */
function rolledBack(input: TemplateInput, toSeq: number): boolean {
  const previous = input.channel.previous ? input.releases.get(input.channel.previous) : undefined;
  return input.to === input.channel.release && previous !== undefined && previous.seq > toSeq;
}

/**
 * Where a client gets a delta: inside the plan as a `data:` URL when it is small (no request, no
 * headers: the plan is compressed anyway), else from each base URL in source order.
 */
export function deltaSources(d: DeltaInfo, to: string, bases: readonly string[]): DeltaSource[] {
  if (d.inline !== undefined) return [{ from: d.from, url: `data:application/octet-stream;base64,${d.inline}`, size: d.size }];
  return bases.map((base) => ({ from: d.from, url: joinUrl(base, PATHS.delta(d.from, to)), size: d.size }));
}

/** Pure: the template made into one client's plan (its id, clock and slots). */
export function personalize(t: PlanTemplate, p: Personal): Decision {
  const fetches: Task[] = t.fetches.map((f, i) => ({ ...f, sources: sourcesWithFirst(f.sources, p.sourceFirst?.[i]), notBefore: p.notBefore[i]! }));
  const tasks: Task[] = [...fetches, ...finalTasks(fetches.map((f) => f.id))];
  const plan: WirePlan = {
    planId: planIdFor(p.client, t.to, p.now),
    app: t.app,
    from: t.from,
    to: t.to,
    toSeq: t.toSeq,
    rollback: t.rollback,
    issuedAt: p.issuedAt ?? p.now,
    expiresAt: (p.issuedAt ?? p.now) + p.options.planTtlMs,
    servedAt: p.now,
    ...(p.signatures ? { signatures: p.signatures } : {}),
    activation: t.activation,
    ...(t.releasePatch ? { releasePatch: t.releasePatch } : { release: t.release }),
    tasks,
  };
  return { status: 'update', plan, nextCheckIn: p.options.checkInInterval };
}

/** When a client's downloads of `to` may start: `now` plus its spread offset. */
export function spreadStart(client: string, to: string, now: number, spreadMs: number): number {
  return now + spreadOffset(client, to, spreadMs);
}

/** The spread start of a client's downloads, the same for every fetch (no capacity planning). */
export function spreadNotBefore(t: PlanTemplate, client: string, now: number, spreadMs: number): number[] {
  return allAt(t, spreadStart(client, t.to, now, spreadMs));
}

/** `at` for every fetch of `t`. */
export function allAt(t: PlanTemplate, at: number): number[] {
  return new Array<number>(t.fetches.length).fill(at);
}

/**
 * Pure: what this client should do now. No IO, no clock; every input is passed in.
 * It is `chooseTarget` (per client) → `planTemplate` (cached by the server) → `personalize` (per client).
 */
export function decide(input: PlannerInput): Decision {
  const { client, channel, now, options } = input;
  const to = chooseTarget(client, channel, input.bucket, input.releases);
  const template = to && channel
    ? planTemplate({ app: client.app, channel, from: client.release, to, releases: input.releases, origin: input.origin, cdn: input.cdn, deltas: input.deltas })
    : null;
  if (!template) return { status: 'current', nextCheckIn: options.checkInInterval, ...(dropsHeld(client, channel) ? { drop: true as const } : {}) };
  return personalize(template, { client: client.client, now, notBefore: spreadNotBefore(template, client.client, now, options.spreadMs), options });
}
