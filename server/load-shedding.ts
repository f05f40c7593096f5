import type { Context, MiddlewareHandler } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import { errorResponse } from './errors.js';

/**
 * Retry-After in whole seconds, spread uniformly over the whole seconds of [base, 2 × base]:
 * clients refused in the same second come back at different seconds instead of as one new wave
 * (Omaha's advice). Drawn as an integer, not a rounded-up real: `ceil(base × (1 + random))` never
 * gave `base` itself, so a base of 1 sent every client back after exactly 2 s.
 */
export function jitteredSeconds(base: number, random: () => number = Math.random): number {
  const low = Math.max(1, Math.ceil(base));
  const high = Math.max(low, Math.floor(2 * base));
  return low + Math.floor(random() * (high - low + 1));
}

function refuse(c: Context, err: UpdraftError, retryAfter: number): Response {
  const res = errorResponse(c, err);
  res.headers.set('Retry-After', String(retryAfter));
  // A cross-origin worker reads it to back off. Routes whose CORS exposes more keep their list.
  if (!res.headers.has('Access-Control-Expose-Headers')) res.headers.set('Access-Control-Expose-Headers', RETRY_AFTER_EXPOSED[1]);
  return res;
}

/** What exposes a refusal's Retry-After to a cross-origin worker, as a header and its value. */
export const RETRY_AFTER_EXPOSED = ['access-control-expose-headers', 'Retry-After'] as const;

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
 * One counter of requests in progress, shared by every route (and the Node check-in lane) it
 * guards: beyond `max`, new requests are refused at once, before any body is read.
 */
export class InFlightGate {
  #inFlight = 0;
  readonly #o: InFlightLimitOptions;
  constructor(o: InFlightLimitOptions) {
    this.#o = o;
  }

  /** Counts a request in, or returns the 503 `overloaded` refusal and its Retry-After. */
  enter(): { release: () => void } | { refusal: UpdraftError; retryAfter: number } {
    if (!this.tryEnter()) return this.refusal();
    let released = false;
    return {
      release: () => {
        if (!released) {
          released = true;
          this.leave();
        }
      },
    };
  }

  /**
   * `enter` without the closure, for the check-in lane's per-request path: true when counted in,
   * and then the caller must `leave()` exactly once.
   */
  tryEnter(): boolean {
    if (this.#inFlight >= this.#o.max) return false;
    this.#inFlight++;
    return true;
  }

  leave(): void {
    this.#inFlight--;
  }

  /** The answer to a request `tryEnter` turned away. */
  refusal(): { refusal: UpdraftError; retryAfter: number } {
    return { refusal: new UpdraftError('overloaded', `over ${this.#o.max} requests in progress, retry later`), retryAfter: jitteredSeconds(this.#o.retryAfter, this.#o.random) };
  }
}

/**
 * `gate` as middleware. A streamed response (a blob) counts until its body is sent or the client
 * goes away, because that is where the work is.
 */
export function inFlightLimit(gate: InFlightGate): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    const entry = gate.enter();
    if ('refusal' in entry) return refuse(c, entry.refusal, entry.retryAfter);
    const { release } = entry;
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

export interface ClientWindowOptions {
  max: number;
  windowMs: number;
  random?: () => number;
  /** Clients tracked at once; the oldest windows are dropped beyond it, so memory stays bounded. @default 100_000 */
  maxClients?: number;
}

/**
 * A fixed window per client: the `max + 1`-th request inside `windowMs` is refused with 429
 * `too_many_requests` and a Retry-After that points past the window's end (plus jitter).
 */
export class ClientWindows {
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #o: ClientWindowOptions;
  readonly #maxClients: number;
  constructor(o: ClientWindowOptions) {
    this.#o = o;
    this.#maxClients = o.maxClients ?? 100_000;
  }

  /** Counts one request of `key` at `now`: null when allowed, else the refusal and its Retry-After. */
  hit(key: string, now: number): { refusal: UpdraftError; retryAfter: number } | null {
    const o = this.#o;
    let w = this.#windows.get(key);
    if (!w || now - w.start >= o.windowMs) {
      if (w) this.#windows.delete(key);
      else if (this.#windows.size >= this.#maxClients) this.#prune(now);
      w = { start: now, count: 0 };
      this.#windows.set(key, w);
    }
    if (++w.count <= o.max) return null;
    // Never before the window ends (an earlier retry would be refused again), spread over half a window more.
    const wait = Math.max(1, Math.ceil((w.start + o.windowMs - now) / 1000));
    const retryAfter = wait + Math.floor((o.random ?? Math.random)() * Math.ceil(wait / 2));
    return { refusal: new UpdraftError('too_many_requests', `over ${o.max} requests in ${o.windowMs / 1000} s from this client`), retryAfter };
  }

  #prune(now: number): void {
    for (const [k, w] of this.#windows) if (now - w.start >= this.#o.windowMs) this.#windows.delete(k);
    // Still full of live windows: drop the oldest (Map keeps insertion order).
    for (const k of this.#windows.keys()) {
      if (this.#windows.size < this.#maxClients) break;
      this.#windows.delete(k);
    }
  }
}

export interface ClientRateOptions {
  /** Names the client of a request, or null when it cannot (those requests are not limited). */
  key: (c: Context) => string | null | Promise<string | null>;
  now: () => number;
}

/** `windows` as middleware, keyed by `o.key`. */
export function clientRateLimit(windows: ClientWindows, o: ClientRateOptions): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    const key = await o.key(c);
    if (key === null) return next();
    const refused = windows.hit(key, o.now());
    return refused ? refuse(c, refused.refusal, refused.retryAfter) : next();
  };
}
