import * as v from 'valibot';
import { boundedArray } from './bounded-array.js';
import { ActivationPolicy } from './plan.js';
import { label } from './label.js';
import { ReleaseId, Sha256 } from './release.js';

export const MissingBlobsRequest = v.object({ sha256s: boundedArray(Sha256, 100_000) });
export type MissingBlobsRequest = v.InferOutput<typeof MissingBlobsRequest>;
export interface MissingBlobsResponse { missing: string[] }

export interface PublishResponse {
  id: string;
  seq: number;
  /** False when a release with this id was already published: it is kept as it was. */
  created: boolean;
  /**
   * The version label stored with the release: the manifest's, or, when it already existed, the
   * one it was first published with (a release id covers its files, not its label, so a rebuild
   * with only another version is the same release). Absent from servers before it.
   */
  version?: string;
}

/**
 * Change a channel. Omitted fields keep their current value, except that pointing the channel at
 * another `release` resumes it (a pause is about one target) unless `paused` is given too.
 */
// Every field is optional and valibot's `object` takes an array as an object with none of them:
// without this check `[]` would be a no-op update answered 200.
export const ChannelUpdate = v.pipe(v.custom<Record<string, unknown>>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), 'must be a JSON object'), v.object({
  /** The target release. Required when the channel does not exist yet. */
  release: v.optional(ReleaseId),
  /**
   * Share of clients (0-100) offered `release`; the others stay on the channel's previous release
   * (after a roll back, where they are: a release rolled back from is offered to nobody).
   * Lowering it moves nobody back: clients already on `release` keep it. @default 100
   */
  percent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  activation: v.optional(ActivationPolicy),
  /** While paused no client gets a plan to `release`; clients already on it stay there. */
  paused: v.optional(v.boolean()),
  /** Why the channel is paused (shown in `updraft status`); ignored unless `paused` is true. */
  pausedReason: v.optional(label(500)),
  /** Clients on a release published before this one (lower `seq`) get their plan with activation `immediate`; null clears it. */
  minimum: v.optional(v.nullable(ReleaseId)),
  /**
   * Move the channel only forward: when it targets a release newer (higher seq) than `release`,
   * nothing changes and the answer says so (`moved: false`). Checked under the store's lock, so
   * of two publishes racing, the older release never ends up the target after the newer one.
   * `updraft publish --channel` sends it; a roll back (`updraft rollout --release`) does not.
   */
  forwardOnly: v.optional(v.boolean()),
}));
export type ChannelUpdate = v.InferOutput<typeof ChannelUpdate>;

export interface ChannelState {
  name: string;
  app: string;
  release: string;
  /** The release clients outside the rollout stay on (the one before `release`), or null. */
  previous: string | null;
  percent: number;
  activation: 'next-navigation' | 'prompt' | 'immediate';
  /** No client gets a plan to `release` while paused; clients already on it stay. */
  paused: boolean;
  /** Why: the admin's reason, or the failure rate that paused it automatically; null when not paused or no reason was given. */
  pausedReason: string | null;
  /** The minimum release: clients on an older one (lower seq) update with activation `immediate`. */
  minimum: string | null;
  /**
   * Reports received from this time on (server clock, epoch ms) count for the automatic pause:
   * when the channel last started offering its release (created, moved to it, or resumed), so a
   * resume is not undone at once by the failures that caused the pause. Absent from servers
   * before it: every report counts.
   */
  sampleSince?: number;
  updatedAt: number;
}

/** The answer to `PUT admin/channels/:name`: the channel's state after the change. */
export interface ChannelAnswer extends ChannelState {
  /**
   * Only for a `forwardOnly` change: true when the channel now targets `release`; false when it
   * was left on a newer release (`reason` says which), and nothing was changed.
   */
  moved?: boolean;
  reason?: string;
  /**
   * Only when this change rolled the channel back: moved it `from` the release it targeted `to` an
   * older one (lower seq). What `updraft rollout` prints as `rolled back from … to …`. Absent from
   * servers before it.
   */
  rolledBack?: { from: ReleaseLabel; to: ReleaseLabel };
}

/** A release as `updraft status` names it: `<id> (<version> #<seq>)`. */
export type ReleaseLabel = Pick<ReleaseSummary, 'id' | 'version' | 'seq'>;

export interface ReleaseSummary { id: string; app: string; version: string; seq: number; createdAt: string; parts: number; bytes: number }

/** A channel as `GET admin/status` lists it: its state, and what follows from it. */
export interface ChannelStatus extends ChannelState {
  /**
   * While the channel targets a release older (lower seq) than its `previous`: it was rolled back
   * `from` that one `to` its release, named as `ChannelAnswer.rolledBack` names them. Absent
   * otherwise, and from servers before it.
   */
  rolledBack?: { from: ReleaseLabel; to: ReleaseLabel };
  /**
   * The target's failure rate as the automatic pause counts it, `failed / clients`: distinct
   * clients that reported on it since `since` (the channel's `sampleSince`), failures about the
   * device or the rollout (`plan_expired`, `quota`, `superseded`, `withdrawn`) left out. Absent
   * from servers before it.
   */
  health?: { clients: number; failed: number; since: number };
}

export interface StatusResponse {
  releases: ReleaseSummary[];
  channels: ChannelStatus[];
  /** Clients per channel and active release, from their latest check-in. */
  clients: { channel: string; release: string | null; count: number }[];
  /** Report counts per release and event (and code, for failures). */
  reportCounts: { release: string; event: string; code: string | null; count: number }[];
  recentReports: { client: string; release: string; event: string; code: string | null; at: number }[];
  /**
   * Deltas this server process has yet to compute (pairs of parts, of `?app` when given): a
   * publish answers before they are computed, and plans fetch those parts whole until each is
   * stored. Absent when the server computes no deltas, and from older servers. `elsewhere`:
   * releases whose deltas another server sharing the blobs directory has pending (the one that
   * took the publish, or one that stopped first); absent from older servers.
   */
  deltas?: { pending: number; elsewhere?: number };
}
