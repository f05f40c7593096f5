/**
 * The plan document an answer by reference names (protocol plan-ref.ts): fetched from the update
 * server, checked against the hash its path ends in, and joined with the answer into the plan the
 * server would have sent inline. What comes out goes through every check an inline plan does.
 */
import * as v from 'valibot';
import { joinUrl, planDocHash, PlanDocument, planFromRef, readErrorBody, sha256Hex, type ErrorCode, type PlanRef, type WirePlan } from '../protocol/index.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { cancelBody, readCapped, TooLarge } from './read-capped.js';
import { parseRetryAfter } from './scheduler.js';
import { timedRequest } from './timed-fetch.js';

/** A document larger than this is refused: a whole manifest of tens of thousands of assets fits. */
export const PLAN_DOC_MAX_BYTES = 16 * 1024 * 1024;

export type PlanDocResult =
  | { plan: WirePlan }
  /** `retryAt` (epoch ms, this device's clock) when the server said when to come back: 429/503. */
  | { code: ErrorCode; message: string; retryAt?: number | null };

export async function resolvePlanRef(ctx: SwContext, ref: PlanRef): Promise<PlanDocResult> {
  const url = joinUrl(ctx.urls.server, ref.doc);
  // Read under the request's watchdog: a hold's body is let go, an error's read as JSON, the
  // document's read up to its cap.
  let got: { res: Response; bytes?: ArrayBuffer; error?: unknown };
  try {
    // The HTTP cache may answer: the URL names the bytes (immutable), and they are checked anyway.
    got = await timedRequest(ctx, url, { method: 'GET' }, async (res, progress) => {
      if (res.status === 429 || res.status === 503) {
        cancelBody(res);
        return { res };
      }
      if (!res.ok) return { res, error: await res.json().catch(() => undefined) };
      return { res, bytes: await readCapped(res, PLAN_DOC_MAX_BYTES, { onChunk: progress }) };
    });
  } catch (e) {
    if (e instanceof TooLarge) return { code: 'content', message: `plan document is larger than ${PLAN_DOC_MAX_BYTES} bytes` };
    return { code: 'transport', message: `plan document: ${describeError(e)}` };
  }
  const { res, bytes } = got;
  if (res.status === 429 || res.status === 503) {
    return { code: res.status === 429 ? 'too_many_requests' : 'overloaded', message: `plan document: HTTP ${res.status}`, retryAt: parseRetryAfter(res.headers.get('retry-after'), ctx.adapter.now()) };
  }
  if (!bytes) {
    const { code, message } = readErrorBody(got.error, 'transport');
    return { code, message: `plan document: HTTP ${res.status}${message !== null ? `: ${message}` : ''}` };
  }
  if ((await sha256Hex(bytes)) !== planDocHash(ref.doc)) return { code: 'content', message: 'plan document does not match the hash it is named by' };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { code: 'invalid_body', message: 'plan document is not JSON' };
  }
  const doc = v.safeParse(PlanDocument, json);
  if (!doc.success) return { code: 'invalid_body', message: `invalid plan document: ${doc.issues[0]?.message ?? ''}` };
  const plan = planFromRef(ref, doc.output);
  return typeof plan === 'string' ? { code: 'invalid_body', message: plan } : { plan };
}
