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
  const expose = o.exposeHeaders.join(',');
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    c.header('Access-Control-Allow-Origin', '*');
    if (expose) c.header('Access-Control-Expose-Headers', expose);
    // The request carries no Origin-dependent answer, so caches need no `Vary: Origin` (hono/cors adds none for '*' either).
    await next();
  };
}
