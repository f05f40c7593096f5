import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS, UpdraftError } from '../protocol/index.js';
import { handleCheckIn } from './check-in.js';
import { JSON_HEADERS, type AnswerBody } from './compress-answer.js';
import { checkInKey, parseCheckIn } from './check-in-request.js';
import { bodyTimeout } from './body-deadline.js';
import { RETRY_AFTER_EXPOSED, type ClientWindows, type InFlightGate } from './load-shedding.js';
import type { ResolvedOptions } from './options.js';

/** A Node request handler that answers the requests it takes and returns false for the rest. */
export type Lane = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface CheckInLaneGates {
  /** The same gate the Hono routes shed with: one count of requests in progress. */
  inFlight: InFlightGate;
  /** The per-client check-in windows, or null when `clientCheckIns` is off. */
  checkIns: ClientWindows | null;
}

const PATH = `/${PATHS.checkIn}`;
// A Host that @hono/node-server takes into the URL as it is, or only normalises (`:80`); one it
// could refuse with 400 (IPv6, upper case, a bad port) goes to Hono.
const PLAIN_HOST = /^[a-z0-9._-]+(?::([1-9]\d{0,4}))?$/;
const isPlainHost = (host: string | undefined) => {
  const m = host === undefined ? null : PLAIN_HOST.exec(host);
  return m !== null && (m[1] === undefined || Number(m[1]) <= 65535);
};
// @hono/node-server decodes bodies the same way: a leading BOM is dropped, bad bytes become U+FFFD.
const utf8 = new TextDecoder();

const BODY = Symbol('updraft.body');
const RESPONSE = Symbol('updraft.response');
const REQUEST = Symbol('updraft.request');
const HELD = Symbol('updraft.held');
const STARTED = Symbol('updraft.started');
type LaneRequest = IncomingMessage & { [BODY]?: Buffer | Buffer[]; [RESPONSE]?: LaneResponse; [STARTED]?: number };
type LaneResponse = ServerResponse & { [HELD]?: boolean; [REQUEST]?: LaneRequest };
// The 408 closes the connection: the rest of a body that came too slowly may never come.
const TIMEOUT_HEADERS = { 'content-type': 'application/json', connection: 'close' };

/**
 * The check-in, answered from Node's own request and response objects ahead of Hono: every
 * client sends one on each wake-up, and Hono's request and response objects, dispatch and
 * middleware chain cost check-ins a third of their throughput (BENCHMARKS.md). It answers exactly
 * as the Hono route with its middleware does (check-in-lane.test.ts sends both the same requests):
 * the same gates, headers, status codes and JSON bodies.
 *
 * It takes only the common shape: `POST /v1/check-in` at the server's root (no query), with a
 * plain Host and a Content-Length within the body limit. Anything else (a preflight, a chunked or
 * oversized body, another path) goes on to Hono, which has the answer for it.
 */
export function checkInLane(o: ResolvedOptions, gates: CheckInLaneGates, baseHeaders: readonly (readonly [string, string])[]): Lane {
  // What the CORS and security-header middleware add to every check-in answer (app.ts gives them), as writeHead's flat list.
  const common = baseHeaders.flatMap(([k, v]) => [k.toLowerCase(), v]);
  const send = (res: ServerResponse, status: number, headers: Readonly<Record<string, string>>, body: AnswerBody): undefined => {
    const list = common.slice();
    // The common answer (JSON, not compressed) has only its type: no loop over keys for it.
    if (headers === JSON_HEADERS) list.push('content-type', 'application/json');
    else for (const k in headers) if (k !== 'content-length') list.push(k, headers[k]!);
    if (typeof body === 'string' || body instanceof Uint8Array) {
      list.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
      res.writeHead(status, list);
      res.end(body);
      return;
    }
    // The client's text, then its template's shared bytes: corked, so both go out in one write
    // with the head (`end` uncorks).
    list.push('content-length', String(Buffer.byteLength(body.own) + body.shared.byteLength));
    res.writeHead(status, list);
    res.cork();
    res.write(body.own);
    res.end(body.shared);
  };
  const refuse = (res: ServerResponse, err: UpdraftError, retryAfter?: number): undefined =>
    send(res, err.status, retryAfter !== undefined ? { 'content-type': 'application/json', 'retry-after': String(retryAfter), [RETRY_AFTER_EXPOSED[0]]: RETRY_AFTER_EXPOSED[1] } : JSON_HEADERS, JSON.stringify(err.toBody()));

  // Nearly every check-in to one server carries the same Host: its check and URL are kept, not redone.
  let plainHost = '';
  let url = '';
  // The per-request state lives on the request and response themselves, and the listeners are
  // these three functions, made once: three closures a check-in cost more than its decision.
  // Nearly every body comes in one chunk: kept as it is. More are collected and joined once at the
  // end; joined on each arrival, a body sent in many small pieces cost time quadratic in its size.
  function onData(this: LaneRequest, chunk: Buffer) {
    const body = this[BODY];
    if (body === undefined) this[BODY] = chunk;
    else if (Array.isArray(body)) body.push(chunk);
    else this[BODY] = [body, chunk];
  }
  function onEnd(this: LaneRequest) {
    const res = this[RESPONSE]!;
    waiting.delete(this);
    const body = this[BODY];
    const done = answer(body === undefined ? '' : utf8.decode(Array.isArray(body) ? Buffer.concat(body) : body), this, res);
    if (done) void done.then(() => leave(res));
    else leave(res);
  }
  // A client gone mid-body never gets to `end`: its count is given back when the response closes.
  // (An IncomingMessage with no `error` listener drops its error, so none is needed.)
  function leave(this: void, res: LaneResponse) {
    if (res[HELD]) {
      res[HELD] = false;
      gates.inFlight.leave();
    }
  }
  function onClose(this: LaneResponse) {
    waiting.delete(this[REQUEST]!);
    leave(this);
  }
  // Check-ins whose body has not ended yet, swept every `sweepMs` for the ones past
  // `bodyTimeoutMs`: a 408 comes between the deadline and half as long again after it. One timer
  // for the lot rather than one per check-in, which cost each check-in ~0.3 µs to arm and clear;
  // nearly every body ends in the tick its headers came in, so the set stays small.
  const waiting = new Set<LaneRequest>();
  const sweepMs = Math.max(1, Math.floor(o.bodyTimeoutMs / 2));
  let sweeper: ReturnType<typeof setInterval> | null = null;
  function sweep() {
    const due = performance.now() - o.bodyTimeoutMs;
    for (const req of waiting) if (req[STARTED]! <= due) tooSlow(req);
    if (waiting.size === 0) {
      clearInterval(sweeper!);
      sweeper = null;
    }
  }
  // The body did not come within `bodyTimeoutMs` of the headers (body-deadline.ts says why): 408
  // now, and the count given back when that answer is sent (`close`), not when Node's
  // requestTimeout ends the request minutes later.
  function tooSlow(req: LaneRequest) {
    waiting.delete(req);
    const res = req[RESPONSE]!;
    req.off('data', onData);
    req.off('end', onEnd);
    req[BODY] = undefined;
    const err = bodyTimeout(o.bodyTimeoutMs);
    send(res, err.status, TIMEOUT_HEADERS, JSON.stringify(err.toBody()));
  }

  return (req: LaneRequest, res: LaneResponse) => {
    if (req.method !== 'POST' || req.url !== PATH) return false;
    const { host, 'content-length': length } = req.headers;
    if (host !== plainHost) {
      if (!isPlainHost(host)) return false;
      plainHost = host!;
      url = `http://${host}${PATH}`;
    }
    if (req.headers['transfer-encoding'] !== undefined || length === undefined || !/^\d+$/.test(length) || Number(length) > o.bodyLimit) return false;

    if (!gates.inFlight.tryEnter()) {
      const { refusal, retryAfter } = gates.inFlight.refusal();
      refuse(res, refusal, retryAfter);
      return true;
    }
    res[HELD] = true;
    req[RESPONSE] = res;
    res.on('close', onClose);
    req.on('data', onData);
    req.on('end', onEnd);
    req[STARTED] = performance.now();
    res[REQUEST] = req;
    waiting.add(req);
    sweeper ??= setInterval(sweep, sweepMs).unref();
    return true;
  };

  /** Answers one body; a promise only when the answer had to wait (a write, a cache refill). */
  function answer(text: string, req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    try {
      let parsed;
      try {
        parsed = parseCheckIn(text);
      } catch (err) {
        // The Hono route counts a request whose app and client read well before it rejects the rest.
        const key = gates.checkIns ? checkInKey(text) : null;
        const limited = key !== null ? gates.checkIns!.hit(key, o.now()) : null;
        if (limited) return refuse(res, limited.refusal, limited.retryAfter);
        throw err;
      }
      const limited = gates.checkIns?.hit(`${parsed.app}/${parsed.client}`, o.now());
      if (limited) return refuse(res, limited.refusal, limited.retryAfter);
      // The kept URL, unless another Host came in while this body was on its way.
      const host = req.headers.host;
      const answered = handleCheckIn(o, parsed, host === plainHost ? url : `http://${host}${PATH}`, req.headers['accept-encoding']);
      if (!(answered instanceof Promise)) return send(res, 200, answered.headers, answered.body);
      return answered.then(({ body, headers }) => send(res, 200, headers, body), (err: unknown) => failed(res, err));
    } catch (err) {
      return failed(res, err);
    }
  }

  function failed(res: ServerResponse, err: unknown): undefined {
    if (err instanceof UpdraftError) return refuse(res, err);
    console.error('updraft: internal error:', err);
    refuse(res, new UpdraftError('internal', 'internal server error'));
  }
}
