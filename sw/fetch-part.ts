/**
 * The `fetch` task: get one part from its sources in order, verify size and SHA-256, store it by
 * hash. Error taxonomy after ChromeOS update_engine: a *content* error (size or hash mismatch)
 * moves to the next source at once and is reported (`rejected`) even when a later source serves
 * the right bytes; a *transport* error (network, other statuses) too, and counts an attempt;
 * 429/503 with a usable Retry-After holds that source's origin until then without spending an
 * attempt; 429/503 without one holds it for a backoff and counts as a transport failure, so a
 * server that keeps refusing gets exponentially rarer requests, not a retry every second; a
 * *local* error (quota) fails the plan without retry.
 */
import { servedType, sha256Hex, type FetchTask } from '../protocol/index.js';
import { isQuotaError, partKey } from './adapter.js';
import { applyDelta } from './apply-delta.js';
import type { SwContext } from './context.js';
import { cancelBody, readCapped, TooLarge } from './read-capped.js';
import { PART_IDLE_TIMEOUT_MS, watchdog } from './timed-fetch.js';
import { describeError } from './debug.js';
import { backoff, originOf, parseRetryAfter } from './scheduler.js';
import type { TaskRecord } from './store.js';
import type { TaskOutcome } from './task-outcome.js';

export const MAX_ATTEMPTS = 6;
/** Bytes that are wrong at every source will not get right by waiting: give up sooner. */
export const MAX_CONTENT_ATTEMPTS = 3;

export interface Holds {
  get(origin: string): number;
  hold(origin: string, until: number): Promise<void>;
}

/**
 * `type`: the content type of the asset in the plan's release that has this part (see
 * `partResponse`). `signal`: the task's (running-tasks.ts); once it aborts, every request ends and
 * the outcome is `aborted`, whatever the sources did, and nothing is stored.
 */
export async function fetchPart(ctx: SwContext, task: FetchTask, rec: TaskRecord, holds: Holds, type?: string, signal?: AbortSignal): Promise<TaskOutcome> {
  const { adapter, parts, log } = ctx;
  const aborted = (): TaskOutcome | null => (signal?.aborted ? { kind: 'aborted', why: describeError(signal.reason) } : null);
  const key = partKey(ctx.urls.scope, task.sha256);
  // Already here from an earlier or superseded plan, or the installed release: no network. A
  // lookup that fails (Cache Storage can fail a read: `UnknownError`) is a part not held: fetching
  // it again costs bytes, failing the plan would cost the update.
  const held = await parts.match(key).catch((e: unknown) => {
    log.warn(`part ${task.sha256.slice(0, 12)}…: cache lookup failed (${describeError(e)}), fetching it`);
    return undefined;
  });
  if (held) return { kind: 'done' };

  const errors: string[] = [];
  /** Content errors at single sources: reported whatever the outcome, so the server learns which source serves bad bytes. */
  const rejected: string[] = [];
  if (task.deltas?.length) {
    const built = await fromDelta(ctx, task, rec, holds, reject, signal);
    if (aborted()) return aborted()!;
    if (built) return storePart(ctx, task, built, rejected, type);
  }
  /** Sources that failed for a reason other than a hold. */
  let failed = 0;
  let contentOnly = true;
  for (const source of task.sources) {
    // A failure that the abort caused is no failure of this source, nor of the next.
    if (aborted()) return aborted()!;
    const origin = originOf(source);
    if (adapter.now() < holds.get(origin)) {
      errors.push(`${origin} held`);
      continue;
    }
    failed++;
    // A source that stalls (no headers, or no next chunk, for PART_IDLE_TIMEOUT_MS) is a transport
    // failure like any other: the next source is tried at once instead of the task hanging.
    const dog = watchdog(ctx.adapter, source, PART_IDLE_TIMEOUT_MS, signal);
    let bytes: ArrayBuffer;
    try {
      let res: Response;
      try {
        // `no-store`: parts are immutable and cached with a year's max-age, so a corrupt copy in the
        // HTTP cache would be replayed on every retry of this source; verified bytes live in `parts`.
        res = await dog.guard(adapter.fetch(source, { mode: 'cors', credentials: 'omit', cache: 'no-store', signal: dog.signal }));
      } catch (e) {
        contentOnly = false;
        errors.push(`transport ${source}: ${describeError(e)}`);
        continue;
      }
      dog.kick();
      if (res.status === 429 || res.status === 503) {
        contentOnly = false;
        const { until, told } = await holdOrigin(ctx, holds, origin, res, rec);
        // The server said when: waiting for it is no failure. Without a usable Retry-After it is one.
        if (told) failed--;
        errors.push(`${res.status} ${source}, held until ${new Date(until).toISOString()}${told ? '' : ' (no usable Retry-After)'}`);
        continue;
      }
      if (!res.ok) {
        contentOnly = false;
        errors.push(`transport ${source}: HTTP ${res.status}`);
        cancelBody(res);
        continue;
      }
      try {
        bytes = await dog.guard(readCapped(res, task.size, { onChunk: dog.kick, signal: dog.signal }));
      } catch (e) {
        if (e instanceof TooLarge) {
          reject(`content ${source}: more than the ${task.size} bytes the plan states, cut off`);
          continue;
        }
        contentOnly = false;
        errors.push(`transport ${source}: ${describeError(e)}`);
        continue;
      }
    } finally {
      dog.done();
    }
    if (bytes.byteLength !== task.size) {
      reject(`content ${source}: ${bytes.byteLength} bytes, expected ${task.size}`);
      continue;
    }
    const hash = await sha256Hex(bytes);
    if (hash !== task.sha256) {
      reject(`content ${source}: sha256 ${hash.slice(0, 12)}…, expected ${task.sha256.slice(0, 12)}…`);
      continue;
    }
    // Aborted while hashing: the plan that wanted the part is gone, and the drop's garbage
    // collection may already have run; a part stored now would stay until the next one.
    if (aborted()) return aborted()!;
    return storePart(ctx, task, bytes, rejected, type);
  }
  if (aborted()) return aborted()!;

  const error = errors.join('; ');
  const firstOpen = Math.min(...task.sources.map((s) => holds.get(originOf(s))));
  if (failed === 0 && firstOpen > adapter.now()) {
    // Only held sources (429/503): wait for the first hold to end, without spending an attempt.
    return { kind: 'retry', at: firstOpen, counted: false, error, code: 'transport', rejected };
  }
  const attempts = rec.attempts + 1;
  const code = contentOnly ? 'content' : 'transport';
  if (attempts >= (contentOnly ? MAX_CONTENT_ATTEMPTS : MAX_ATTEMPTS)) {
    return { kind: 'fail', code, message: `part ${task.sha256} failed ${attempts} times: ${error}`, rejected };
  }
  return { kind: 'retry', at: Math.max(adapter.now() + backoff(attempts, adapter.random()), firstOpen), counted: true, error, code, rejected };

  function reject(problem: string): void {
    errors.push(problem);
    rejected.push(`part ${task.sha256}: ${problem}`);
    log.warn(problem);
  }
}


/** Verified bytes into the parts cache: done, or a failure of the plan (quota, or another storage error). */
async function storePart(ctx: SwContext, task: FetchTask, bytes: ArrayBuffer, rejected: string[], type: string | undefined): Promise<TaskOutcome> {
  try {
    await ctx.parts.put(partKey(ctx.urls.scope, task.sha256), partResponse(bytes, task.sha256, type));
  } catch (e) {
    const code = isQuotaError(e) ? 'quota' : 'install';
    return { kind: 'fail', code, message: `storing part ${task.sha256}: ${describeError(e)}`, rejected };
  }
  return { kind: 'done', rejected };
}

/**
 * The part built from a delta over a part this client holds, verified; null when no delta
 * applies. Any failure — base not held, transport, a delta that does not apply, wrong size or
 * hash — only logs (a bad delta is also `reject`ed, hence reported) and leaves the whole-part
 * sources to do the work: a delta is an optimisation, never a reason to fail or wait.
 */
async function fromDelta(ctx: SwContext, task: FetchTask, rec: TaskRecord, holds: Holds, reject: (problem: string) => void, signal?: AbortSignal): Promise<ArrayBuffer | null> {
  const { adapter, log } = ctx;
  const bases = new Map<string, Uint8Array | null>();
  for (const d of task.deltas ?? []) {
    if (signal?.aborted) return null;
    // A small delta travels inside the plan as a data: URL: name it shortly in logs and reports.
    const where = d.url.startsWith('data:') ? `inline delta for ${task.sha256.slice(0, 12)}…` : d.url;
    if (!bases.has(d.from)) bases.set(d.from, await heldBase(ctx, d.from));
    const base = bases.get(d.from);
    if (!base) {
      log.info(`delta ${where}: base ${d.from.slice(0, 12)}… not held, fetching the whole part`);
      continue;
    }
    // A delta comes from the same servers as parts: a hold one of them asked for (429/503) holds here too.
    const origin = originOf(d.url);
    if (adapter.now() < holds.get(origin)) {
      log.info(`delta ${where}: ${origin} held, trying the next source`);
      continue;
    }
    let delta: Uint8Array;
    try {
      const dog = watchdog(ctx.adapter, where, PART_IDLE_TIMEOUT_MS, signal);
      try {
        const res = await dog.guard(adapter.fetch(d.url, { mode: 'cors', credentials: 'omit', cache: 'no-store', signal: dog.signal }));
        if (res.status === 429 || res.status === 503) {
          // As for a part source, and no attempt spent: the delta only saves bytes.
          const { until } = await holdOrigin(ctx, holds, origin, res, rec);
          log.info(`delta ${where}: HTTP ${res.status}, ${origin} held until ${new Date(until).toISOString()}`);
          continue;
        }
        if (!res.ok) {
          cancelBody(res);
          log.info(`delta ${where}: HTTP ${res.status}, fetching the whole part`);
          continue;
        }
        dog.kick();
        // Capped like a part: a delta larger than the plan says is cut off and rejected.
        delta = new Uint8Array(await dog.guard(readCapped(res, d.size, { onChunk: dog.kick, signal: dog.signal })));
      } finally {
        dog.done();
      }
    } catch (e) {
      if (e instanceof TooLarge) {
        reject(`content ${where}: more than the ${d.size} bytes the plan states, cut off`);
        continue;
      }
      log.info(`delta ${where}: ${describeError(e)}, fetching the whole part`);
      continue;
    }
    if (delta.byteLength !== d.size) {
      reject(`content ${where}: delta of ${delta.byteLength} bytes, expected ${d.size}`);
      continue;
    }
    let out: Uint8Array;
    try {
      // The header's output size is checked against the part's before any buffer is made, so a
      // hostile delta cannot make us build a huge one.
      out = applyDelta(base, delta, task.size);
    } catch (e) {
      reject(`content ${where}: delta does not apply: ${describeError(e)}`);
      continue;
    }
    if (out.byteLength !== task.size) {
      reject(`content ${where}: delta built ${out.byteLength} bytes, expected ${task.size}`);
      continue;
    }
    const bytes = out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
    const hash = await sha256Hex(bytes);
    if (hash !== task.sha256) {
      reject(`content ${where}: delta built sha256 ${hash.slice(0, 12)}…, expected ${task.sha256.slice(0, 12)}…`);
      continue;
    }
    return bytes;
  }
  return null;
}

/**
 * Holds `origin` after its 429 or 503 `res` (whose body is let go): until its Retry-After, or for
 * a backoff in the task's attempts when it gave none usable. One rule for part and delta sources,
 * which share the holds. `told`: the server said when.
 */
async function holdOrigin(ctx: SwContext, holds: Holds, origin: string, res: Response, rec: TaskRecord): Promise<{ until: number; told: boolean }> {
  const { adapter } = ctx;
  const retryAt = parseRetryAfter(res.headers.get('retry-after'), adapter.now());
  const until = retryAt ?? adapter.now() + backoff(rec.attempts + 1, adapter.random());
  await holds.hold(origin, until);
  cancelBody(res);
  return { until, told: retryAt !== null };
}

/**
 * The bytes of a held part to build on, or null. Cache Storage can answer with an entry whose body
 * then fails to read (its backing file gone): that is a base not held, not a failed plan.
 */
async function heldBase(ctx: SwContext, sha256: string): Promise<Uint8Array | null> {
  try {
    const held = await ctx.parts.match(partKey(ctx.urls.scope, sha256));
    return held ? new Uint8Array(await held.arrayBuffer()) : null;
  } catch (e) {
    ctx.log.warn(`delta base ${sha256.slice(0, 12)}… unreadable: ${describeError(e)}`);
    return null;
  }
}

/**
 * A part as stored: its bytes with the type of the asset it was stored for and its hash, so that
 * `serveAsset` can answer with the cached response itself (as Workbox does) when the asset asking
 * for it has that type. Parts are shared by hash, so the type is only the first asset's: an asset
 * of another type, or a part stored before parts had types, is wrapped with its own type.
 */
export function partResponse(bytes: ArrayBuffer, sha256: string, type: string | undefined): Response {
  return new Response(bytes, { headers: { ...partHeaders(sha256, type), 'content-length': String(bytes.byteLength) } });
}

/**
 * The headers a part is answered with for an asset of `type`: as stored, and as `serveAsset` wraps
 * it. The type as the server sends it (`servedType`: text gets its charset), so a page decodes the
 * same bytes the same way online and from the worker.
 */
export function partHeaders(sha256: string, type: string | undefined): { 'content-type': string; 'x-updraft-sha256': string } {
  return { 'content-type': servedType(type || 'application/octet-stream'), 'x-updraft-sha256': sha256 };
}
