import { createHash } from 'node:crypto';
import { finalTasks, joinUrl, PATHS, planDocPath, planStatement, sourcesWithFirst } from '../protocol/index.js';
import { deflateFragment, type DeflatedFragment } from './gzip-answer.js';
import type { PlanSigner } from './plan-signer.js';
import type { Personal, PlannerOptions, PlanTemplate } from './planner.js';
import { personalize } from './planner.js';
import { planIdFor } from './rollout-bucket.js';

/**
 * A plan template pre-serialised into JSON fragments, so answering a client is string
 * concatenation around its own numbers (plan id, clock, slots) instead of building and
 * stringifying an object that embeds the whole manifest. `renderUpdate` must stay equal to
 * `JSON.stringify(personalize(...))` once parsed; planner.test.ts checks it.
 */
export interface RenderedTemplate {
  template: PlanTemplate;
  /** `,"app":...,"toSeq":N,"rollback":B` */
  head: string;
  /** The signed times and signatures, renewed by `signedPart` as they age. */
  signed: SignedPart | null;
  /** `,"activation":...,"release":{...}` (or `"releasePatch"`) */
  body: string;
  /** Per fetch: `{"id":...,"size":N,"sources":` */
  fetchHeads: string[];
  /** Per fetch: its sources in template order, as JSON. */
  fetchSources: string[];
  /** `]` + install/report/activate tasks + `]}` */
  tail: string;
  /** The fragments of the compact form (`fetch`), or null when the template's sources do not fit it. */
  compact: CompactFragments | null;
  /** The compact answer's constant tail deflated, made on the first answer that needs it (gzip-answer.ts). */
  deflatedTail?: DeflatedFragment;
  /** The same tail as bytes, written after each client's own text (`splitAnswer`); made likewise. */
  sharedTail?: Buffer;
  /** `body` deflated alone, for the compact answer with a time per part; made likewise. */
  deflatedBody?: DeflatedFragment;
  /** The plan document answers by reference name (`planDoc`); null when the template has no compact form. */
  doc?: PlanDoc | null;
  /** `refAnswer`'s shared tail, for the signed part and interval it was made with. */
  refTail?: { signed: SignedPart; interval: number; text: string };
}

/**
 * A template's plan document (protocol plan-ref.ts): the plan's shared part, the same bytes for
 * every client and every second, so it is made once and served as an immutable file.
 */
export interface PlanDoc {
  bytes: Buffer;
  sha256: string;
  /** Its wire path, `v1/plans/<app>/<channel>/<from>/<to>/<sha256>`. */
  path: string;
  /** `,"doc":"<path>"`, as the answer carries it. */
  ref: string;
  /** Compressed copies, made on the first request that takes them. */
  encoded: Partial<Record<'br' | 'gzip', Promise<Buffer>>>;
}

/** A plan's `fetch` (protocol `CompactFetch`) as JSON fragments around each client's numbers. */
export interface CompactFragments {
  /** `,"fetch":{"bases":[...]` */
  open: string;
  /**
   * For the answer whose parts share one time (no capacity planning): `,"bases":[...],"parts":[...]}`.
   * It, `head`, `body` and the plan's `}` end that answer, the same for every client, and are
   * deflated as one (the parts' hashes against the patch's).
   */
  parts: string;
  /** Per fetch: `{"sha256":...,"size":N,"notBefore":` */
  partHeads: string[];
}

/**
 * The part of a template's answer that carries time and signatures. Signing once per template and
 * second keeps Ed25519 off the per-request path: every client moving `from → to` shares it, and
 * its `issuedAt` is at most `SIGNED_PART_MAX_AGE_MS` older than the answer.
 */
export interface SignedPart {
  issuedAt: number;
  expiresAt: number;
  /** `,"issuedAt":I,"expiresAt":E` plus `,"signatures":[...]` when the server signs. */
  json: string;
}

export const SIGNED_PART_MAX_AGE_MS = 1000;

export function renderTemplate(t: PlanTemplate): RenderedTemplate {
  const s = JSON.stringify;
  const fetchHeads = t.fetches.map((f) => {
    const { sources: _sources, ...rest } = f;
    // Everything of the fetch template but its sources (per client order) and notBefore (per client).
    return `${s(rest).slice(0, -1)},"sources":`;
  });
  const fetchIds = t.fetches.map((f) => f.id);
  const tail = `${t.fetches.length ? ',' : ''}${finalTasks(fetchIds).map((x) => s(x)).join(',')}]}`;
  const r: RenderedTemplate = {
    template: t,
    head: flat(`,"app":${s(t.app)},"from":${s(t.from)},"to":${s(t.to)},"toSeq":${t.toSeq},"rollback":${t.rollback}`),
    signed: null,
    body: flat(`,"activation":${s(t.activation)},${t.releasePatch ? `"releasePatch":${s(t.releasePatch)}` : `"release":${s(t.release)}`}`),
    fetchHeads: fetchHeads.map(flat),
    fetchSources: t.fetches.map((f) => flat(s(f.sources))),
    tail: flat(tail),
    compact: null,
  };
  r.compact = compactFragments(t);
  return r;
}

/**
 * The compact form's fragments, when every fetch's sources are `v1/blobs/<sha256>` under the same
 * bases in the same order (as `planTemplate` makes them): `expandFetch` must give back exactly the
 * template's tasks. Null otherwise (and for a plan with nothing to fetch), which sends the full form.
 */
function compactFragments(t: PlanTemplate): CompactFragments | null {
  const first = t.fetches[0];
  if (!first) return null;
  const path = PATHS.blob(first.sha256);
  const bases = first.sources.map((url) => (url.endsWith(`/${path}`) ? url.slice(0, -path.length) : null));
  if (bases.some((b) => b === null)) return null;
  const fits = t.fetches.every((f) => f.sources.length === bases.length && f.sources.every((url, i) => url === joinUrl(bases[i]!, PATHS.blob(f.sha256))));
  if (!fits) return null;
  const s = JSON.stringify;
  const part = (f: PlanTemplate['fetches'][number]) => `{"sha256":${s(f.sha256)},"size":${f.size}${f.deltas ? `,"deltas":${s(f.deltas)}` : ''}`;
  return {
    open: flat(`,"fetch":{"bases":${s(bases)}`),
    parts: flat(`,"bases":${s(bases)},"parts":[${t.fetches.map((f) => `${part(f)}}`).join(',')}]}`),
    partHeads: t.fetches.map((f) => flat(`${part(f)},"notBefore":`)),
  };
}

/**
 * The same text as one flat string. A fragment built by concatenation or slicing is a tree of
 * pieces that V8 walks again each time an answer containing it is flattened (for its byte length,
 * for the socket): 2 µs of a 4 KB plan's 3, against 50 ns once every fragment is flat.
 */
function flat(text: string): string {
  return Buffer.from(text).toString();
}

/** The template's signed part as of `now`, renewed when older than a second (or from a clock that went back). */
export function signedPart(r: RenderedTemplate, now: number, options: PlannerOptions, signer: PlanSigner | null): SignedPart {
  const cur = r.signed;
  if (cur && now >= cur.issuedAt && now - cur.issuedAt < SIGNED_PART_MAX_AGE_MS) return cur;
  const issuedAt = now;
  const expiresAt = issuedAt + options.planTtlMs;
  let json = `,"issuedAt":${issuedAt},"expiresAt":${expiresAt}`;
  if (signer) {
    // The statement ignores every per-client field, so any client's plan gives the same bytes.
    const plan = personalize(r.template, { client: '', now, issuedAt, notBefore: r.template.fetches.map(() => 0), options });
    // Signed whole: the worker rebuilds the manifest from a patch before it checks.
    if (plan.status === 'update') json += `,"signatures":${JSON.stringify(signer(planStatement({ ...plan.plan, release: r.template.release })))}`;
  }
  r.signed = { issuedAt, expiresAt, json };
  return r.signed;
}

/**
 * `{"status":"current","nextCheckIn":N}`: the answer of most check-ins, so made once per interval.
 * `extra` (`,"key":value...`) goes inside the object, for fields outside the plan (`recorded`).
 * `drop` (`dropsHeld`) adds `"drop":true`: its own cached text, so the common answer stays one
 * comparison and a returned string.
 */
export function renderCurrent(checkInInterval: number, extra = '', drop = false): string {
  if (extra) return `{"status":"current","nextCheckIn":${checkInInterval}${drop ? ',"drop":true' : ''}${extra}}`;
  const last = lastAnswer[drop ? 1 : 0]!;
  if (last.interval !== checkInInterval) {
    last.interval = checkInInterval;
    last.json = JSON.stringify({ status: 'current', nextCheckIn: checkInInterval, ...(drop ? { drop: true } : {}) });
  }
  return last.json;
}
/** The last plain and drop answers made (`renderCurrent`), by `drop`. */
const lastAnswer = [{ interval: Number.NaN, json: '' }, { interval: Number.NaN, json: '' }];

/** An update answer as the text pieces it is joined from: `renderUpdate`'s, kept apart for gzip. */
export interface UpdateAnswer {
  pieces: string[];
  template: RenderedTemplate;
  /**
   * The cached fragment spliced gzip uses (`deflatedFragment`): the compact answer's constant
   * tail, or its manifest when each part has its own time. Null for the full form: its fragments
   * are short and many, and deflated one by one they compress badly (1550 B against brotli's 898
   * for a 2.3 KB plan); it is compressed whole.
   */
  splice: 'tail' | 'body' | null;
}

/** What a check-in answers: `current` as JSON text, an update as its pieces. */
export type Answer = string | UpdateAnswer;

export const answerText = (a: Answer): string => (typeof a === 'string' ? a : a.pieces.join(''));

/**
 * The JSON of `personalize(r.template, p)` with `p.issuedAt`/`p.signatures` from `signed`, built
 * from the cached fragments; `extra` as in `renderCurrent`. `compact` (the worker declared
 * `caps.compactPlans`) sends the task list as `fetch` when the template has that form; parsed with
 * the protocol's schema, both forms give the same plan.
 */
export function renderUpdate(r: RenderedTemplate, signed: SignedPart, p: Personal, extra = '', compact = false): string {
  // Joined from a list rather than concatenated: join makes one flat string at once, where `+=`
  // makes a tree that the byte count and the socket write each walk again (1.2 µs of a 4 KB plan).
  return updateAnswer(r, signed, p, extra, compact).pieces.join('');
}

/** `renderUpdate`'s pieces. */
export function updateAnswer(r: RenderedTemplate, signed: SignedPart, p: Personal, extra = '', compact = false): UpdateAnswer {
  const c = compact ? r.compact : null;
  const planId = planIdFor(p.client, r.template.to, p.now);
  if (c && !p.sourceFirst && oneTime(p.notBefore)) {
    // One time for every part from every source in order (no capacity planning): the client's own
    // fields come first, and all after that time is the same for every client: deflated as one for
    // gzip, written as cached bytes otherwise (`splitAnswer`). (Key order means nothing in JSON.)
    const pieces = ['{"status":"update","nextCheckIn":', String(p.options.checkInInterval), extra, ',"plan":{"planId":"', planId, '"', signed.json, ',"servedAt":', String(p.now), ',"fetch":{"notBefore":', String(p.notBefore[0]), ...tailPieces(r)];
    return { pieces, template: r, splice: 'tail' };
  }
  const out = ['{"status":"update","plan":{"planId":"', planId, '"', r.head, signed.json, ',"servedAt":', String(p.now), r.body];
  const fetches = r.template.fetches;
  if (c) {
    out.push(c.open, ',"parts":[');
    for (let i = 0; i < fetches.length; i++) {
      const first = p.sourceFirst?.[i];
      out.push(i ? ',' : '', c.partHeads[i]!, String(p.notBefore[i]), first ? `,"first":${first}}` : '}');
    }
    out.push(']}}');
  } else {
    out.push(',"tasks":[');
    for (let i = 0; i < fetches.length; i++) {
      const first = p.sourceFirst?.[i];
      out.push(i ? ',' : '', r.fetchHeads[i]!, first ? JSON.stringify(sourcesWithFirst(fetches[i]!.sources, first)) : r.fetchSources[i]!, ',"notBefore":', String(p.notBefore[i]), '}');
    }
    out.push(r.tail);
  }
  out.push(',"nextCheckIn":', String(p.options.checkInInterval), extra, '}');
  return { pieces: out, template: r, splice: c ? 'body' : null };
}

/**
 * The template's plan document, made on the first answer by reference; null when the template's
 * sources do not have the compact form (those clients get the plan inline). `channel` is the one
 * whose cache entry holds `r`.
 */
export function planDoc(r: RenderedTemplate, channel: string): PlanDoc | null {
  if (r.doc !== undefined) return r.doc;
  const c = r.compact;
  if (!c) return (r.doc = null);
  // `c.parts` is `,"bases":[...],"parts":[...]}`: the compact fetch without its time, closed.
  const bytes = Buffer.from(`{${r.head.slice(1)}${r.body},"fetch":{${c.parts.slice(1)}}`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const t = r.template;
  const path = planDocPath(t.app, channel, t.from, t.to, sha256);
  return (r.doc = { bytes, sha256, path, ref: flat(`,"doc":"${path}"`), encoded: {} });
}

/**
 * The JSON of an answer by reference (protocol `CheckInUpdateRef`): this client's plan id, the
 * template's signed part, its times and first sources, and the document's path. A few hundred
 * bytes whatever the release's size, which is what lets an update check-in cost what a `current`
 * one does. `doc` is `planDoc(r, ...)`; `planFromRef` of this and the document is the plan
 * `renderUpdate` sends inline (planner.test.ts). The client's own fields come first, so that all
 * after them (signed part, path, interval) is one string per template and second.
 */
export function refAnswer(r: RenderedTemplate, doc: PlanDoc, signed: SignedPart, p: Personal, extra = ''): string {
  const times = p.notBefore;
  if (p.sourceFirst === undefined && oneTime(times)) return refAnswerAt(r, doc, signed, p.client, p.now, times[0]!, p.options.checkInInterval, extra);
  const tail = refTail(r, doc, signed, p.options.checkInInterval);
  const out = ['{"status":"update-ref","ref":{"planId":"', planIdFor(p.client, r.template.to, p.now), '","servedAt":', String(p.now), ',"parts":['];
  for (let i = 0; i < times.length; i++) {
    const first = p.sourceFirst?.[i];
    out.push(i ? ',{"notBefore":' : '{"notBefore":', String(times[i]), first ? `,"first":${first}}` : '}');
  }
  out.push(']', tail, extra, '}');
  return out.join('');
}

/** Whether every part has the same time (a loop: `every` made a closure per answer). */
function oneTime(times: readonly number[]): boolean {
  for (let i = 1; i < times.length; i++) if (times[i] !== times[0]) return false;
  return true;
}

/** `refAnswer` with one time, `notBefore`, for every part: the answer without capacity planning. */
export function refAnswerAt(r: RenderedTemplate, doc: PlanDoc, signed: SignedPart, client: string, now: number, notBefore: number, checkInInterval: number, extra = ''): string {
  // Joined, not concatenated: see `renderUpdate`.
  return ['{"status":"update-ref","ref":{"planId":"', planIdFor(client, r.template.to, now), '","servedAt":', String(now), ',"notBefore":', String(notBefore), refTail(r, doc, signed, checkInInterval), extra, '}'].join('');
}

/** `<signed part>,"doc":"<path>"},"nextCheckIn":N`: what an answer by reference shares with every client on its template that second. */
function refTail(r: RenderedTemplate, doc: PlanDoc, signed: SignedPart, checkInInterval: number): string {
  const cur = r.refTail;
  if (cur && cur.signed === signed && cur.interval === checkInInterval) return cur.text;
  const text = flat(`${signed.json}${doc.ref}},"nextCheckIn":${checkInInterval}`);
  r.refTail = { signed, interval: checkInInterval, text };
  return text;
}

/** The pieces after the parts' one time in the compact answer, closing it: the same for every client. */
function tailPieces(r: RenderedTemplate): string[] {
  return [r.compact!.parts, r.head, r.body, '}}'];
}
const TAIL_PIECES = 4;

/**
 * A compact answer's long fragment deflated, once per template and only when an answer needs it:
 * everything after the parts' one time (see `CompactFragments.parts`), or the manifest (`body`)
 * for the answer with a time per part.
 */
export function deflatedFragment(r: RenderedTemplate, splice: 'tail' | 'body'): DeflatedFragment {
  if (splice === 'tail') return (r.deflatedTail ??= deflateFragment(tailPieces(r)));
  return (r.deflatedBody ??= deflateFragment([r.body]));
}

/** An answer as the client's own text and the bytes that follow it in every answer on its template. */
export interface SplitText {
  own: string;
  shared: Buffer;
}

/**
 * The compact answer with one time as its client's text and its shared tail's cached bytes, or
 * null for another answer. Written as two chunks (check-in-lane.ts), the tail (~1.6 KB of a 1.9 KB
 * answer) is neither joined into a new string nor encoded again per answer: ~0.7 µs of the server's
 * ~23 µs per update check-in under load (BENCHMARKS.md, seventh session).
 */
export function splitAnswer(a: UpdateAnswer): SplitText | null {
  if (a.splice !== 'tail') return null;
  const r = a.template;
  return { own: a.pieces.slice(0, -TAIL_PIECES).join(''), shared: (r.sharedTail ??= Buffer.from(tailPieces(r).join(''))) };
}
