/**
 * An update answer by reference (since 0.4, sent only to workers whose check-in says
 * `caps.planRefs`): the check-in answer carries what is this client's own (plan id, times,
 * signatures, source order) and names the plan's shared part, the *plan document*, by an immutable
 * URL. Every client moving `from → to` on one channel gets the same document, so the origin makes
 * it once, a browser or CDN caches it, and the answer to "is there an update?" stays as small as
 * the answer "no" (Omaha and CodePush answer with a package URL for the same reason).
 *
 * The document's URL ends in the SHA-256 of its bytes, which the worker checks before reading it.
 * `planFromRef` puts the two halves back together into the plan the server would have sent inline,
 * and everything after that (signatures, storage) is unchanged: the signatures in the answer are
 * over the whole plan, document included.
 */
import * as v from 'valibot';
import { ActivationPolicy, CompactPart, Plan, type WirePlan } from './plan.js';
import { PlanSignature } from './plan-signature.js';
import { Name, ReleaseId, ReleaseManifest } from './release.js';
import { ReleasePatch } from './release-patch.js';

const NAME = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
/** `v1/plans/<app>/<channel>/<from or ->/<to>/<sha256 of the document>`. */
export const PLAN_DOC_PATH = new RegExp(`^v1/plans/(${NAME})/(${NAME})/(-|[0-9a-f]{16})/([0-9a-f]{16})/([0-9a-f]{64})$`);

/** The wire path of a plan document; `from` null is a first install. */
export function planDocPath(app: string, channel: string, from: string | null, to: string, sha256: string): string {
  return `v1/plans/${app}/${channel}/${from ?? '-'}/${to}/${sha256}`;
}

/** The SHA-256 a plan document path names (its last segment); null when `path` is not one. */
export function planDocHash(path: string): string | null {
  return PLAN_DOC_PATH.exec(path)?.[5] ?? null;
}

const Time = v.pipe(v.number(), v.integer());

/**
 * The plan's shared part: a plan without its per-client fields (`planId`, times, signatures) and
 * with the task list in the compact form whose parts carry no time or source order.
 */
export const PlanDocument = v.object({
  app: Name,
  from: v.nullable(ReleaseId),
  to: ReleaseId,
  toSeq: v.pipe(v.number(), v.integer(), v.minValue(1)),
  rollback: v.optional(v.boolean()),
  activation: ActivationPolicy,
  release: v.optional(ReleaseManifest),
  releasePatch: v.optional(ReleasePatch),
  fetch: v.object({
    bases: v.array(v.string()),
    parts: v.array(v.omit(CompactPart, ['notBefore', 'first'])),
  }),
});
export type PlanDocument = v.InferOutput<typeof PlanDocument>;

/** A part's own time and first source, when the parts do not share one (capacity planning). */
export const PartSlot = v.object({
  notBefore: v.optional(Time),
  first: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/** What an answer by reference carries: the plan's per-client fields and its document's path. */
export const PlanRef = v.object({
  planId: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  issuedAt: Time,
  expiresAt: Time,
  servedAt: Time,
  signatures: v.optional(v.pipe(v.array(PlanSignature), v.maxLength(8))),
  /** The plan document, relative to the server's base URL (`planDocPath`). */
  doc: v.pipe(v.string(), v.regex(PLAN_DOC_PATH, 'must be a plan document path')),
  /** The time of every part without one of its own in `parts`. */
  notBefore: v.optional(Time),
  /** Per part of the document, in its order: its own time and first source. Absent: none has one. */
  parts: v.optional(v.array(PartSlot)),
});
export type PlanRef = v.InferOutput<typeof PlanRef>;

/**
 * The plan `ref` and `doc` stand for, as the schema `Plan` reads it (compact `fetch` expanded), or
 * an error message when they do not fit together: another document than the one named, a slot list
 * of another length, a part left without a time.
 */
export function planFromRef(ref: PlanRef, doc: PlanDocument): WirePlan | string {
  const named = PLAN_DOC_PATH.exec(ref.doc)!;
  if (doc.app !== named[1] || (doc.from ?? '-') !== named[3] || doc.to !== named[4]) return 'the plan document is not the one the answer names';
  if (ref.parts && ref.parts.length !== doc.fetch.parts.length) return `the answer has slots for ${ref.parts.length} parts, the document ${doc.fetch.parts.length}`;
  const parts = ref.parts ? doc.fetch.parts.map((p, i) => ({ ...p, ...ref.parts![i] })) : doc.fetch.parts;
  const { doc: _doc, notBefore, parts: _parts, ...personal } = ref;
  const plan = v.safeParse(Plan, { ...doc, ...personal, fetch: { ...doc.fetch, ...(notBefore !== undefined ? { notBefore } : {}), parts } });
  return plan.success ? plan.output : `invalid plan: ${plan.issues[0]?.message ?? ''}`;
}
