/**
 * `fetch` with a deadline on the worker's clock (the adapter's timers, so tests drive it with the
 * fake clock). A source that accepts the connection and then stalls would otherwise hold its task,
 * or a check-in and every check-in joined to it, until the browser ends the worker's event.
 */
import type { SwContext } from './context.js';

/** For a check-in or a report batch: small bodies, one round trip. */
export const REQUEST_TIMEOUT_MS = 30_000;

export class RequestTimeout extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly url: string, readonly ms: number) {
    super(`no answer from ${url} within ${ms / 1000} s`);
  }
}

/**
 * Rejects with `RequestTimeout` when the response headers have not arrived within `ms`. The body
 * is not covered: callers reading a large body bound it themselves.
 */
export async function timedFetch(ctx: SwContext, url: string, init: RequestInit, ms = REQUEST_TIMEOUT_MS): Promise<Response> {
  const controller = new AbortController();
  let timer: unknown = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = ctx.adapter.setTimeout(() => {
      const err = new RequestTimeout(url, ms);
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([ctx.adapter.fetch(url, { ...init, signal: controller.signal }), deadline]);
  } finally {
    ctx.adapter.clearTimeout(timer);
  }
}
