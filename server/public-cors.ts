import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

export interface PublicCorsOptions {
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  /** Preflight cache, seconds. */
  maxAge: number;
}

/**
 * CORS for any origin, as hono/cors with `origin: '*'`, but an actual request's headers are set
 * with `c.header()` before the handler runs: hono/cors writes them into `c.res` first, which
 * makes @hono/node-server build a full Response for every answer (check-in throughput fell
 * threefold). Preflights go to hono/cors unchanged.
 */
export function publicCors(o: PublicCorsOptions): MiddlewareHandler {
  const preflight = cors({ origin: '*', ...o });
  const headers = corsHeaders(o);
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    for (const [k, v] of headers) c.header(k, v);
    // The request carries no Origin-dependent answer, so caches need no `Vary: Origin` (hono/cors adds none for '*' either).
    await next();
  };
}

/** The headers `publicCors` gives an actual (not preflight) request. */
export function corsHeaders(o: Pick<PublicCorsOptions, 'exposeHeaders'>): [string, string][] {
  const expose = o.exposeHeaders.join(',');
  return [['Access-Control-Allow-Origin', '*'], ...(expose ? [['Access-Control-Expose-Headers', expose] as [string, string]] : [])];
}
