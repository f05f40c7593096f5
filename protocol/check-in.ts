import * as v from 'valibot';
import { Name, ReleaseId } from './release.js';
import { Plan } from './plan.js';
import { PlanRef } from './plan-ref.js';

export const ClientId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 of A-Z a-z 0-9 _ -'));

/**
 * The range of `nextCheckIn`, seconds, that servers set and workers honour. At 0 every open page's
 * nudge (app/wake.ts) would have its worker check in as fast as the server answers; timers honour
 * at most 2^31 - 1 ms (~24.8 days), and a longer wait sets a time the worker may never reach, so a
 * bad answer would silence it for good. A worker holds what it is told to this range.
 */
export const CHECK_IN_INTERVAL_RANGE_S = [1, Math.floor(2_147_483_647 / 1000)] as const;

export const Capabilities = v.object({
  sync: v.boolean(),
  periodicSync: v.boolean(),
  /** From `navigator.storage.estimate()`, bytes. */
  quota: v.optional(v.pipe(v.number(), v.minValue(0))),
  usage: v.optional(v.pipe(v.number(), v.minValue(0))),
  /** The worker reads a plan's compact `fetch` (since 0.3): the server may send it instead of `tasks`. */
  compactPlans: v.optional(v.boolean()),
  /** The worker fetches a plan document an answer names (since 0.4): the server may answer `update-ref`. */
  planRefs: v.optional(v.boolean()),
  /**
   * The worker accepts release ids that cover `sw.js` (since 0.6, `releaseIdForm`): the server may
   * offer it such a release. A worker before 0.6 would refuse the plan (and its first install
   * from such a manifest); it is not offered one (see `chooseTarget`).
   */
  swIds: v.optional(v.boolean()),
});
export type Capabilities = v.InferOutput<typeof Capabilities>;

/** The server's acknowledgement of a client's recorded state (opaque to clients). */
export const RecordedToken = v.pipe(v.string(), v.regex(/^[0-9a-z]{1,16}$/, 'must be 1-16 of 0-9 a-z'));

export const CheckInRequest = v.object({
  client: ClientId,
  app: Name,
  channel: Name,
  /** The active release, or null before the first install finished. */
  release: v.nullable(ReleaseId),
  /** A release staged but not yet active (prompt policy), if any. */
  staged: v.optional(v.nullable(ReleaseId)),
  /**
   * The target of a plan the worker holds and has not staged yet (since 0.5): the server answers
   * `current` with `drop` when it would not have the worker move there now (a pause, a roll back).
   */
  pending: v.optional(v.nullable(ReleaseId)),
  caps: Capabilities,
  /**
   * The `recorded` of the last answer: the server skips rewriting a record it acknowledged for the
   * same state in the same period. Absent on a first check-in; a wrong one only costs a write.
   */
  recorded: v.optional(RecordedToken),
});
export type CheckInRequest = v.InferOutput<typeof CheckInRequest>;

export const CheckInCurrent = v.object({
  status: v.literal('current'),
  /** Seconds until the client should check in again. */
  nextCheckIn: v.pipe(v.number(), v.minValue(0)),
  /** To send back as the next check-in's `recorded`. */
  recorded: v.optional(RecordedToken),
  /**
   * Since 0.5: discard every held plan and any staged release, keep running the active one. Sent
   * when the client reported a `pending` release, or a `staged` one other than the channel's
   * release: the rollout it came from was paused or rolled back. Workers before 0.5 ignore it.
   */
  drop: v.optional(v.literal(true)),
});
export const CheckInUpdate = v.object({
  status: v.literal('update'),
  nextCheckIn: v.pipe(v.number(), v.minValue(0)),
  plan: Plan,
  recorded: v.optional(RecordedToken),
});
/** An update whose plan document the worker fetches (since 0.4; see plan-ref.ts). */
export const CheckInUpdateRef = v.object({
  status: v.literal('update-ref'),
  nextCheckIn: v.pipe(v.number(), v.minValue(0)),
  ref: PlanRef,
  recorded: v.optional(RecordedToken),
});
export const CheckInResponse = v.variant('status', [CheckInCurrent, CheckInUpdate, CheckInUpdateRef]);
export type CheckInCurrent = v.InferOutput<typeof CheckInCurrent>;
export type CheckInUpdate = v.InferOutput<typeof CheckInUpdate>;
export type CheckInUpdateRef = v.InferOutput<typeof CheckInUpdateRef>;
export type CheckInResponse = v.InferOutput<typeof CheckInResponse>;
