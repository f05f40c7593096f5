import type { Context, MiddlewareHandler } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import { errorResponse } from './errors.js';

/**
 * Retry-After in whole seconds, spread uniformly over [base, 2 × base]: clients refused in the
 * same second come back at different seconds instead of as one new wave (Omaha's advice).
 */
export function jitteredSeconds(base: number, random: () => number = Math.random): number {
  return Math.max(1, Math.ceil(base * (1 + random())));
}

function refuse(c: Context, err: UpdraftError, retryAfter: number): Response {
  const res = errorResponse(c, err);
  res.headers.set('Retry-After', String(retryAfter));
  return res;
}

/** Calls `done` once, when the body has been read to the end, failed, or been cancelled. */
function whenSettled(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        done();
        controller.error(err);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
}

export interface InFlightLimitOptions {
  max: number;
  /** Base Retry-After, seconds. */
  retryAfter: number;
  random?: () => number;
}

/**
 * One counter shared by every route it is mounted on: beyond `max` requests in progress, new
 * ones get 503 `overloaded` at once, before any body is read. A streamed response (a blob) counts
 * until its body is sent or the client goes away, because that is where the work is.
 */
export function inFlightLimit(o: InFlightLimitOptions): MiddlewareHandler {
  let inFlight = 0;
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    if (inFlight >= o.max) {
      return refuse(c, new UpdraftError('overloaded', `over ${o.max} requests in progress, retry later`), jitteredSeconds(o.retryAfter, o.random));
    }
    inFlight++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        inFlight--;
      }
    };
    try {
      await next();
    } catch (err) {
      release();
      throw err;
    }
    // JSON answers (check-in plans, errors) are built in memory: done once returned.
    // Headers first: reading `c.res.body` turns @hono/node-server's light response into a full one
    // (a stream, written chunk by chunk), which cost a check-in most of its throughput.
    if (c.req.method === 'HEAD' || /^application\/json/.test(c.res.headers.get('Content-Type') ?? '') || !c.res.body) {
      release();
      return;
    }
    c.res = new Response(whenSettled(c.res.body!, release), c.res);
  };
}

export interface ClientRateOptions {
  max: number;
  windowMs: number;
  /** Names the client of a request, or null when it cannot (those requests are not limited). */
  key: (c: Context) => string | null | Promise<string | null>;
  now: () => number;
  random?: () => number;
  /** Clients tracked at once; the oldest windows are dropped beyond it, so memory stays bounded. @default 100_000 */
  maxClients?: number;
}

/**
 * A fixed window per client: the `max + 1`-th request inside `windowMs` gets 429
 * `too_many_requests`, with a Retry-After that points past the window's end (plus jitter).
 */
export function clientRateLimit(o: ClientRateOptions): MiddlewareHandler {
  const windows = new Map<string, { start: number; count: number }>();
  const maxClients = o.maxClients ?? 100_000;
  const prune = (now: number) => {
    for (const [k, w] of windows) if (now - w.start >= o.windowMs) windows.delete(k);
    // Still full of live windows: drop the oldest (Map keeps insertion order).
    for (const k of windows.keys()) {
      if (windows.size < maxClients) break;
      windows.delete(k);
    }
  };
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    const key = await o.key(c);
    if (key === null) return next();
    const now = o.now();
    let w = windows.get(key);
    if (!w || now - w.start >= o.windowMs) {
      if (w) windows.delete(key);
      else if (windows.size >= maxClients) prune(now);
      w = { start: now, count: 0 };
      windows.set(key, w);
    }
    if (++w.count > o.max) {
      // Never before the window ends (an earlier retry would be refused again), spread over half a window more.
      const wait = Math.max(1, Math.ceil((w.start + o.windowMs - now) / 1000));
      const retryAfter = wait + Math.floor((o.random ?? Math.random)() * Math.ceil(wait / 2));
      return refuse(c, new UpdraftError('too_many_requests', `over ${o.max} requests in ${o.windowMs / 1000} s from this client`), retryAfter);
    }
    return next();
  };
}
