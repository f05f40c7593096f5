import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UpdraftError } from '../protocol/index.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-token guard for admin routes. Comparing SHA-256 digests keeps `timingSafeEqual`'s
 * equal-length requirement from leaking the token's length. No token configured → every admin
 * request is refused: an open admin API must be a deliberate choice, not a default.
 */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  const expected = token ? digest(token) : null;
  return async (c, next) => {
    const header = c.req.header('Authorization') ?? '';
    // RFC 6750 §3: a 401 names the scheme it wants.
    c.header('WWW-Authenticate', 'Bearer realm="updraft"');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!expected) throw new UpdraftError('unauthorized', 'admin API disabled: start the server with a token');
    if (!m?.[1] || !timingSafeEqual(digest(m[1].trim()), expected)) {
      throw new UpdraftError('unauthorized', 'missing or wrong bearer token');
    }
    c.header('WWW-Authenticate', undefined);
    await next();
  };
}
