import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { UpdraftError } from '../protocol/index.js';
import { errorResponse } from './errors.js';

/**
 * hono/body-limit for small JSON bodies, with a fast path: a request that declares its length
 * (every fetch and sendBeacon does) is judged on the header alone, without touching
 * `c.req.raw.body` — which would make @hono/node-server build a web stream for the body. Chunked
 * bodies go through hono/body-limit, which counts while reading.
 */
export function jsonBodyLimit(maxSize: number): MiddlewareHandler {
  const tooLarge = (c: Parameters<MiddlewareHandler>[0]) =>
    errorResponse(c, new UpdraftError('body_too_large', `request bodies are limited to ${maxSize} bytes`));
  const counting = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined && /^\d+$/.test(length)) {
      return Number(length) > maxSize ? tooLarge(c) : next();
    }
    return counting(c, next);
  };
}
