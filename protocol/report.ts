import * as v from 'valibot';
import { boundedArray } from './bounded-array.js';
import { ClientId } from './check-in.js';
import { Name, ReleaseId } from './release.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';

/**
 * - `downloaded`: the plan's release is staged. `activated`: it became the active release.
 * - `failed`: the plan failed for good; `code` says why (`content`, `transport`, `quota`, ...).
 * - `rejected` (since 0.1, additive): a source served bytes that did not match a part's hash or
 *   size. Not a failure: the bytes were never stored and the next source was tried. `code` is
 *   `content`; `message` names the part and the source. At most one per source per attempt.
 * - `boot-failed` (since 0.1, additive): the release was activated, but no page it served confirmed
 *   it (`ready()` in `updraft/client`) within `SwConfig.bootTimeoutMs` of the first navigation it
 *   served. The worker went back to the previous release and will not install this one again.
 *   `code` is `boot_failed`; `planId` is the plan that installed it, when still known. A separate
 *   event, not `failed`: the plan itself completed, and a failure rate per release can count these.
 * - `dropped` (since 0.5, additive): the server answered a check-in `current` with `drop` (the
 *   channel was paused or rolled back), and the worker discarded its plan to `release`, or the
 *   staged `release`, unactivated. Not a failure of the release. `planId` when a plan was held.
 */
export const ReportEvent = v.picklist(['downloaded', 'activated', 'failed', 'rejected', 'boot-failed', 'dropped']);
export type ReportEvent = v.InferOutput<typeof ReportEvent>;

export const Report = v.object({
  client: ClientId,
  app: Name,
  planId: v.optional(v.pipe(v.string(), v.maxLength(100))),
  /** The release the report is about (the plan's target). */
  release: ReleaseId,
  event: ReportEvent,
  code: v.optional(v.custom<ErrorCode>((c) => typeof c === 'string' && Object.hasOwn(ERROR_CODES, c), 'unknown error code')),
  message: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  /** Client clock, epoch ms: a time a `Date` can hold (±8.64e15), so every reader can show it. */
  at: v.pipe(v.number(), v.finite(), v.minValue(-8.64e15), v.maxValue(8.64e15)),
});
export type Report = v.InferOutput<typeof Report>;

export const ReportBatch = v.object({ reports: v.pipe(boundedArray(Report, 100), v.minLength(1)) });
export type ReportBatch = v.InferOutput<typeof ReportBatch>;
