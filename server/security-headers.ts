import type { MiddlewareHandler } from 'hono';

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

const API_SUFFIXES = ['/v1/check-in', '/v1/reports'];

/** Which part of the server answers: the public update API (`v1/*`), the admin API (`v1/admin/*`), or the app (the rest). */
export type Surface = 'public' | 'admin' | 'app';

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
 * What check-in and reports answers get of the public surface. They answer CORS requests with
 * JSON: CORP (`cross-origin`, the permissive value) and a referrer policy do nothing for them, and
 * every update pays their bytes (`npm run bench:bytes` counts headers). Parts, deltas and releases
 * keep them.
 */
export function apiHeaders(): [string, string][] {
  return headersFor('public').filter(([k]) => k === 'X-Content-Type-Options');
}

/** What a header value can hold (RFC 9110 §5.5, without obs-text): no CR, LF or NUL, nothing past ASCII. */
export const isHeaderValue = (value: string): boolean => /^[\t\x20-\x7e]*$/.test(value);

/**
 * The options as given, once each value is one a header can carry: a policy with a line break
 * (pasted from a multi-line config) made every page of the app answer 500.
 */
export function resolveSecurityHeaders(o: SecurityHeadersOptions): SecurityHeadersOptions {
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && (typeof v !== 'string' || !isHeaderValue(v))) throw new TypeError(`securityHeaders.${k} must be a header value: printable ASCII, no line breaks`);
  }
  return o;
}

/**
 * The headers of one surface, for `app.use(pattern, securityHeaders(surface))` on that surface's
 * paths (app.ts: `*` for the app, `/v1/*` public, `/v1/admin/*` admin; a later one overrides an
 * earlier one's values). Routes are matched relative to where the server is mounted, so no path
 * parsing is needed per request.
 *
 * API headers go in with `c.header()` before the route runs (cheap: check-in answers stay light
 * responses); a route that builds a Response of its own (parts, app files) gets them afterwards,
 * where missing. Every surface sets CORP, so a response without it is one `c.header()` did not
 * reach — or an app response, whose headers are only ever filled in afterwards.
 */
export function securityHeaders(surface: Surface, o: SecurityHeadersOptions = {}): MiddlewareHandler {
  const all = headersFor(surface, o);
  const api = apiHeaders();
  return async (c, next) => {
    const isApi = surface !== 'admin' && API_SUFFIXES.some((p) => c.req.path.endsWith(p));
    // The app surface (`*`) runs on every path: on the API ones the public surface has the say.
    if (isApi && surface === 'app') return next();
    const headers = isApi ? api : all;
    if (surface !== 'app') for (const [k, v] of headers) c.header(k, v);
    await next();
    if (headers === api || !c.res.headers.has('Cross-Origin-Resource-Policy')) {
      for (const [k, v] of headers) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
    }
  };
}
