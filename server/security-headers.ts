import type { MiddlewareHandler } from 'hono';
import { basePath } from 'hono/route';

export interface SecurityHeadersOptions {
  /**
   * `Content-Security-Policy` of the served app's files. None by default: a policy that fits one
   * app (inline scripts, analytics origins, `blob:` workers) breaks another, and Updraft injects
   * no inline script of its own, so any policy the app works under works with Updraft too.
   * @default none
   */
  contentSecurityPolicy?: string;
  /** `Referrer-Policy` of the served app. @default 'strict-origin-when-cross-origin' (the browsers' own default, made explicit) */
  referrerPolicy?: string;
  /**
   * `Cross-Origin-Resource-Policy` of the served app's files: `same-site` or `cross-origin` when
   * pages of other origins embed them (images, scripts). Parts and check-in are always
   * `cross-origin`: a CDN or another origin's SW reads them. @default 'same-origin'
   */
  crossOriginResourcePolicy?: 'same-origin' | 'same-site' | 'cross-origin';
}

/** Which part of the server answers a path: the public update API, the admin API, or the app. */
export type Surface = 'public' | 'admin' | 'app';

/** `path` relative to where the update server is mounted, with or without its leading slash. */
export function surfaceOf(path: string): Surface {
  const p = path.replace(/^\/+/, '');
  if (p === 'v1/admin' || p.startsWith('v1/admin/')) return 'admin';
  if (p === 'v1' || p.startsWith('v1/')) return 'public';
  return 'app';
}

/** The headers each surface gets (a route that sets one itself keeps its own, e.g. the dashboard's CSP). */
export function headersFor(surface: Surface, o: SecurityHeadersOptions = {}): [string, string][] {
  const common: [string, string][] = [['X-Content-Type-Options', 'nosniff']];
  switch (surface) {
    case 'public':
      // Read by SWs of other origins and mirrored by CDNs; a JSON or part is never a page, so it leaks no referrer.
      return [...common, ['Cross-Origin-Resource-Policy', 'cross-origin'], ['Referrer-Policy', 'no-referrer']];
    case 'admin':
      return [
        ...common, ['Cross-Origin-Resource-Policy', 'same-origin'], ['Referrer-Policy', 'no-referrer'],
        // Status and tokens' answers are for the caller only; no frame may host the dashboard.
        ['Cache-Control', 'no-store'], ['X-Frame-Options', 'DENY'],
      ];
    case 'app':
      return [
        ...common,
        ['Cross-Origin-Resource-Policy', o.crossOriginResourcePolicy ?? 'same-origin'],
        ['Referrer-Policy', o.referrerPolicy ?? 'strict-origin-when-cross-origin'],
        ...(o.contentSecurityPolicy ? [['Content-Security-Policy', o.contentSecurityPolicy] as [string, string]] : []),
      ];
  }
}

/**
 * Sets each surface's headers on every answer, errors and 404s included. They go in with
 * `c.header()` before the route runs (cheap: check-in answers stay light responses); routes that
 * build a Response of their own (parts, app files) get them afterwards, where missing.
 */
export function securityHeaders(o: SecurityHeadersOptions = {}): MiddlewareHandler {
  const bySurface: Record<Surface, [string, string][]> = { public: headersFor('public', o), admin: headersFor('admin', o), app: headersFor('app', o) };
  return async (c, next) => {
    const prefix = basePath(c).replace(/\/$/, '');
    const headers = bySurface[surfaceOf(c.req.path.slice(prefix.length))];
    for (const [k, v] of headers) c.header(k, v);
    await next();
    // Every surface sets CORP: without it, the route answered with a Response `c.header()` did not reach.
    if (!c.res.headers.has('Cross-Origin-Resource-Policy')) {
      for (const [k, v] of headers) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
    }
  };
}
