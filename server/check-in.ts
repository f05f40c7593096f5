import { Hono } from 'hono';
import { PATHS, UpdraftError, type CheckInRequest } from '../protocol/index.js';
import { checkRecord } from './client-record.js';
import { compressAnswer, joinBody } from './compress-answer.js';
import { planDoc, refAnswer, refAnswerAt, renderCurrent, signedPart, updateAnswer, type Answer, type PlanDoc, type RenderedTemplate } from './answer-json.js';
import { parseCheckIn } from './check-in-request.js';
import type { ChannelEntry } from './check-in-cache.js';
import type { ResolvedOptions } from './options.js';
import { allAt, chooseTarget, dropsHeld, spreadStart, type Personal, type PlanTemplate } from './planner.js';
import { isSharedSlotLedger, type Budget, type SlotLedger, type Slots } from './slot-ledger.js';
import { planSlots } from './slot-planner.js';

/** Base URL of the server as the client sees it: the request URL minus `v1/check-in`, so mounting under a prefix just works. */
export function originFromRequest(url: string): string {
  // Nearly every check-in to one server comes with the same URL: parse it once, not per request
  // (a `new URL` was 3 % of a check-in's CPU in bench/check-in.ts).
  if (url === lastOrigin.url) return lastOrigin.origin;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // A Host header Node's parser passed but no URL can hold (`xn--`, `999.1.1.1`): the sources
    // would be made from it, so the client's request is what is wrong.
    throw new UpdraftError('bad_request', `the request's Host does not make a valid URL: ${url.slice(0, 200)}`);
  }
  u.search = '';
  u.hash = '';
  const href = u.href;
  const origin = href.endsWith(PATHS.checkIn) ? href.slice(0, -PATHS.checkIn.length) : new URL('/', u).href;
  lastOrigin = { url, origin };
  return origin;
}
let lastOrigin = { url: '', origin: '' };


/**
 * Slots for one client's plan. A client checking in again while it holds a reservation for the
 * same target gets the same slots (even those that passed: it is fetching, or retrying a failed
 * part, and the server cannot tell which parts it already has), so waiting clients never book
 * twice; retries run unbooked, inside the headroom the planner leaves. The ledger forgets a
 * reservation a minute after its last slot; a later check-in books afresh from `earliest`.
 * Null when the budget is booked too far ahead for the plan to be through by `horizon` (its
 * `expiresAt`): nothing is booked, and the client is told to check in later.
 */
export function bookSlots(ledger: SlotLedger, capacity: Readonly<Record<string, Budget>>, t: PlanTemplate, client: string, earliest: number, now: number): Slots;
export function bookSlots(ledger: SlotLedger, capacity: Readonly<Record<string, Budget>>, t: PlanTemplate, client: string, earliest: number, now: number, horizon?: number): Slots | null;
export function bookSlots(
  ledger: SlotLedger, capacity: Readonly<Record<string, Budget>>, t: PlanTemplate, client: string, earliest: number, now: number, horizon?: number,
): Slots | null {
  ledger.releaseBefore(now);
  const prior = ledger.reservation(client);
  if (prior && prior.to === t.to && prior.notBefore.length === t.fetches.length) return prior;
  const plan = planSlots({ fetches: t.fetches.map((f) => ({ size: f.size, sources: t.sourceKeys })), earliest, capacity, ledger, horizon });
  if (!plan) return null;
  ledger.book(plan.charges);
  const slots = { notBefore: plan.notBefore, sourceFirst: plan.sourceFirst };
  ledger.reserve(client, { to: t.to, ...slots });
  return slots;
}

/**
 * `decide()` as the server runs it: the per-client target, then the cached template for
 * (app, channel, from, to, origin), then the per-client plan id and slots rendered into the cached
 * JSON. planner.test.ts holds the two to the same answers. Synchronous while the cache holds what
 * the check-in needs (nearly always): a promise per check-in cost more than the decision.
 */
export function answerCheckIn(o: ResolvedOptions, req: CheckInRequest, origin: string, now: number, extra = ''): Answer | Promise<Answer> {
  const entry = o.checkInCache.channel(req.app, req.channel);
  return entry instanceof Promise ? entry.then((e) => answerFrom(o, e, req, origin, now, extra)) : answerFrom(o, entry, req, origin, now, extra);
}

function answerFrom(o: ResolvedOptions, entry: ChannelEntry, req: CheckInRequest, origin: string, now: number, extra: string): Answer | Promise<Answer> {
  const to = chooseTarget(req, entry.channel, undefined, entry.releases);
  // A worker that holds nothing withdrawn (the common case: two reads) gets the common cached answer.
  if (!to) return renderCurrent(o.checkInInterval, extra, dropsHeld(req, entry.channel));
  const found = o.checkInCache.template(entry, req.release, to, origin, o.cdn);
  return found instanceof Promise ? found.then((r) => planFrom(o, r, entry, req, to, now, extra)) : planFrom(o, found, entry, req, to, now, extra);
}

function planFrom(o: ResolvedOptions, rendered: RenderedTemplate | null, entry: ChannelEntry, req: CheckInRequest, to: string, now: number, extra: string): Answer | Promise<Answer> {
  if (!rendered) return renderCurrent(o.checkInInterval, extra, dropsHeld(req, entry.channel));
  const planner = o.planner;
  const signed = signedPart(rendered, now, planner, o.signer);
  // A worker that fetches plan documents gets its update by reference when the template has one
  // large enough for the extra request to pay (`planRefMinBytes`).
  const doc = req.caps.planRefs === true ? largeDoc(planDoc(rendered, req.channel), o.planRefMinBytes) : null;
  const earliest = spreadStart(req.client, to, now, o.spreadMs);
  if (!o.capacity) {
    // One time for every part (`spreadNotBefore`): by reference, the answer needs no list of times.
    if (doc) return refAnswerAt(rendered, doc, signed, req.client, now, earliest, planner.checkInInterval, extra);
    return updateAnswer(rendered, signed, { client: req.client, now, notBefore: allAt(rendered.template, earliest), options: planner }, extra, req.caps.compactPlans === true);
  }
  const client = `${req.app}\n${req.client}`;
  const t = rendered.template;
  const answer = (slots: Slots | null): Answer => {
    if (!slots) return deferred(o, rendered, extra, dropsHeld(req, entry.channel));
    const p: Personal = { client: req.client, now, ...slots, options: planner };
    return doc ? refAnswer(rendered, doc, signed, p, extra) : updateAnswer(rendered, signed, p, extra, req.caps.compactPlans === true);
  };
  // A slot after the plan's expiry could never be used (the worker drops an expired plan), however
  // late the spread put the client: `spreadMs` is at most half the plan's life (options.ts), so a
  // spread client still has half of it to be booked in.
  const horizon = signed.expiresAt;
  if (isSharedSlotLedger(o.slotLedger)) {
    return o.slotLedger.bookPlan({ client, to: t.to, fetches: t.fetches.map((f) => ({ size: f.size, sources: t.sourceKeys })), earliest, now, capacity: o.capacity, horizon }).then(answer);
  }
  return answer(bookSlots(o.slotLedger, o.capacity, t, client, earliest, now, horizon));
}

/**
 * The answer to a client whose plan the budget cannot serve before the plan would expire: not
 * now, check in again after the usual interval (by then the budget has room further ahead). Said
 * on stderr once per template, as a budget so small next to the release is an operator's matter.
 */
function deferred(o: ResolvedOptions, rendered: RenderedTemplate, extra: string, drop: boolean): Answer {
  if (!deferredSaid.has(rendered)) {
    deferredSaid.add(rendered);
    console.warn(`updraft: capacity: the download budget is booked past the plans' lifetime (planTtlMs ${o.planTtlMs} ms): clients for ${rendered.template.to} are told to check in later; a part larger than the budget serves in that time never goes out`);
  }
  return renderCurrent(o.checkInInterval, extra, drop);
}
const deferredSaid = new WeakSet<RenderedTemplate>();

const largeDoc = (doc: PlanDoc | null, min: number): PlanDoc | null => (doc && doc.bytes.byteLength >= min ? doc : null);

export type CheckInAnswer = ReturnType<typeof compressAnswer>;

/**
 * One parsed check-in to its answer: record the client unless it sent back the acknowledgement
 * of this very state (client-record.ts; a write-behind store, as startServer's is, only queues
 * the record, and nothing is awaited), decide, render and compress. Both the Hono route and the
 * Node lane (check-in-lane.ts) answer with this; synchronously when the store queues and the
 * cache is warm.
 */
export function handleCheckIn(
  o: ResolvedOptions, req: CheckInRequest, url: string, acceptEncoding: string | undefined,
): CheckInAnswer | Promise<CheckInAnswer> {
  const now = o.now();
  const record = checkRecord(o, req, now);
  const extra = record === null ? '' : `,"recorded":"${record.token}"`;
  const origin = o.publicUrl ?? originFromRequest(url);
  if (!record?.unchanged) {
    const client = { id: req.client, app: req.app, channel: req.channel, release: req.release, staged: req.staged ?? null, caps: req.caps, lastSeen: now };
    if (!o.store.queueClient?.(client)) {
      return o.store.upsertClient(client).then(async () => compressAnswer(await answerCheckIn(o, req, origin, now, extra), acceptEncoding));
    }
  }
  const json = answerCheckIn(o, req, origin, now, extra);
  return json instanceof Promise ? json.then((j) => compressAnswer(j, acceptEncoding)) : compressAnswer(json, acceptEncoding);
}

export function checkInRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.post(`/${PATHS.checkIn}`, async (c) => {
    const { body, headers } = await handleCheckIn(o, parseCheckIn(await c.req.text()), c.req.url, c.req.header('accept-encoding'));
    return c.body(joinBody(body), 200, headers);
  });
  return app;
}
