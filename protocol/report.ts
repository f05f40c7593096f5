import * as v from 'valibot';
import { ClientId } from './check-in.js';
import { Name, ReleaseId } from './release.js';
import { ERROR_CODES, type ErrorCode } from './errors.js';

export const ReportEvent = v.picklist(['downloaded', 'activated', 'failed']);
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
  /** Client clock, epoch ms. */
  at: v.number(),
});
export type Report = v.InferOutput<typeof Report>;

export const ReportBatch = v.object({ reports: v.pipe(v.array(Report), v.minLength(1), v.maxLength(100)) });
export type ReportBatch = v.InferOutput<typeof ReportBatch>;
