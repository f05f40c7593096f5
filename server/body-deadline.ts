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

/** The refusal of an admin body that came slower than `bytesPerSecond` over a window of `ms`. */
export function bodyTooSlow(bytesPerSecond: number, ms: number): UpdraftError {
  return new UpdraftError('timeout', `the request body came slower than ${bytesPerSecond} bytes/s over ${ms} ms`);
}

/**
 * A deadline on the body of a small-body route (check-in, reports, the dashboard's sign-in form),
 * counted from when its headers were read. A client that sends the headers and trickles the body
 * (slowloris) would otherwise hold its place at the in-flight gate until Node's `requestTimeout`
 * (300 s): about `maxInFlight` of them refused every other check-in for five minutes. Past the
 * deadline the request is answered 408 `timeout` at once, which gives the place back (the
 * middleware before it sees the answer); the handler still waiting on the body fails when the
 * connection closes, and its answer goes nowhere.
 *
 * Node only: it reads the body's progress from @hono/node-server's `incoming`; elsewhere (no
 * `c.env.incoming`) it does nothing.
 */
export function bodyDeadline(ms: number): MiddlewareHandler {
  return watchBody(ms, () => bodyTimeout(ms));
}

/**
 * A minimum data rate for large bodies (admin JSON, part uploads), which no total deadline fits:
 * a 512 MiB part takes minutes on a good uplink. In each window of `ms` at least
 * `bytesPerSecond × ms / 1000` bytes must arrive, else 408 `timeout` as `bodyDeadline`. A window
 * in which the server itself was not reading (the body's buffer full: a slow disk, the handler
 * not at the body yet) does not count against the client.
 */
export function bodyMinRate(ms: number, bytesPerSecond: number): MiddlewareHandler {
  const least = (bytesPerSecond * ms) / 1000;
  return watchBody(ms, (incoming, progress) => {
    // Bytes off the socket: the body's (and for the first window its headers', a few hundred).
    const read = incoming.socket?.bytesRead ?? 0;
    const came = read - progress.read;
    progress.read = read;
    const held = incoming.readableFlowing === false || incoming.readableLength >= incoming.readableHighWaterMark;
    return came < least && !held ? bodyTooSlow(bytesPerSecond, ms) : null;
  });
}

/**
 * Checks the body at the end of each window of `ms` until it is complete; `late` says whether it
 * is (the refusal) or may go on (null). A late request is answered at once, with
 * `Connection: close`: the rest of its body may never come.
 */
function watchBody(ms: number, late: (incoming: IncomingMessage, progress: { read: number }) => UpdraftError | null): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    // `complete`: the whole body is here (or there was none), nothing to wait for.
    if (!incoming || incoming.complete || c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const progress = { read: incoming.socket?.bytesRead ?? 0 };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refused = new Promise<UpdraftError>((resolve) => {
      const check = () => {
        // A body that arrived in time, with a handler still working (a store write), is not late.
        if (incoming.complete) return;
        const err = late(incoming, progress);
        if (err) resolve(err);
        else timer = setTimeout(check, ms);
      };
      timer = setTimeout(check, ms);
    });
    const handled = next();
    let first: UpdraftError | void;
    try {
      first = await Promise.race([handled, refused]);
    } finally {
      clearTimeout(timer);
    }
    if (!(first instanceof UpdraftError)) return;
    // Settles once the connection is gone (the body read fails, onError answers to nobody).
    handled.catch(() => {});
    const res = errorResponse(c, first);
    res.headers.set('Connection', 'close');
    return res;
  };
}
