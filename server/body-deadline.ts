import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import { errorResponse } from './errors.js';

/**
 * The refusal of a small body that did not arrive within `ms` of its headers. The answer also
 * closes the connection (`Connection: close`): the rest of the body may never come, and a
 * keep-alive connection would wait for it.
 */
export function bodyTimeout(ms: number): UpdraftError {
  return new UpdraftError('timeout', `the request body did not arrive within ${ms} ms`);
}

/**
 * A deadline on the body of a small-body route (check-in, reports, the dashboard's sign-in form), counted from when its headers
 * were read. A client that sends the headers and trickles the body (slowloris) would otherwise
 * hold its place at the in-flight gate until Node's `requestTimeout` (300 s): about `maxInFlight`
 * of them refused every other check-in for five minutes. Past the deadline the request is answered
 * 408 `timeout` at once, which gives the place back (the middleware before it sees the answer);
 * the handler still waiting on the body fails when the connection closes, and its answer goes
 * nowhere. Large uploads (admin routes) are not under it: they stay on Node's `requestTimeout`.
 *
 * Node only: it reads the body's progress from @hono/node-server's `incoming`; elsewhere (no
 * `c.env.incoming`) it does nothing.
 */
export function bodyDeadline(ms: number): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    // `complete`: the whole body is here (or there was none), nothing to wait for.
    if (!incoming || incoming.complete || c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<typeof LATE>((resolve) => {
      // A body that arrived in time, with a handler still working (a store write), is not late.
      timer = setTimeout(() => incoming.complete || resolve(LATE), ms);
    });
    const handled = next();
    try {
      if ((await Promise.race([handled, late])) !== LATE) return;
    } finally {
      clearTimeout(timer);
    }
    // Settles once the connection is gone (the body read fails, onError answers to nobody).
    handled.catch(() => {});
    const res = errorResponse(c, bodyTimeout(ms));
    res.headers.set('Connection', 'close');
    return res;
  };
}

const LATE = Symbol('late');
