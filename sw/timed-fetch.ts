/**
 * Deadlines on the worker's clock (the adapter's timers, so tests drive them with the fake clock).
 * A source that accepts the connection and then stalls would otherwise hold its task, or a
 * check-in and every check-in joined to it, until the browser ends the worker's event.
 */
import type { SwContext } from './context.js';

/** For a check-in or a report batch: small bodies, one round trip. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** For a part: the longest wait for the headers or for the next chunk of the body. */
export const PART_IDLE_TIMEOUT_MS = 30_000;

export class RequestTimeout extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly url: string, readonly ms: number) {
    super(`no answer from ${url} within ${ms / 1000} s`);
  }
}

export interface Watchdog {
  /** Pass to fetch: aborted when the watchdog fires. */
  signal: AbortSignal;
  /** Rejects with `RequestTimeout` when the watchdog fires first. */
  guard<T>(work: Promise<T>): Promise<T>;
  /** Progress: the timer starts over. */
  kick(): void;
  /** Stops the timer. */
  done(): void;
}

/** Fires when `ms` pass without a `kick()`: aborts the request and fails what it guards. */
export function watchdog(ctx: SwContext, url: string, ms: number): Watchdog {
  const controller = new AbortController();
  let timer: unknown = null;
  let fire: (e: RequestTimeout) => void = () => {};
  const fired = new Promise<never>((_, reject) => (fire = reject));
  fired.catch(() => {}); // only the guarded work reports it
  const arm = () => {
    if (timer !== null) ctx.adapter.clearTimeout(timer);
    timer = ctx.adapter.setTimeout(() => {
      const err = new RequestTimeout(url, ms);
      controller.abort(err);
      fire(err);
    }, ms);
  };
  arm();
  return {
    signal: controller.signal,
    guard: (work) => Promise.race([work, fired]),
    kick: arm,
    done: () => {
      if (timer !== null) ctx.adapter.clearTimeout(timer);
      timer = null;
    },
  };
}

/** `fetch` that rejects with `RequestTimeout` when the headers have not arrived within `ms`. Bodies are the caller's to bound. */
export async function timedFetch(ctx: SwContext, url: string, init: RequestInit, ms = REQUEST_TIMEOUT_MS): Promise<Response> {
  const dog = watchdog(ctx, url, ms);
  try {
    return await dog.guard(ctx.adapter.fetch(url, { ...init, signal: dog.signal }));
  } finally {
    dog.done();
  }
}
