import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ERROR_CODES, UpdraftError, type ErrorCode } from '../protocol/index.js';

/** The JSON error response every route answers with; nothing else builds error bodies. */
export function errorResponse(c: Context, err: UpdraftError): Response {
  return c.json(err.toBody(), err.status as ContentfulStatusCode);
}

/** Maps an HTTP status from outside Updraft (HTTPException, middleware) to the nearest code. */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return 'body_too_large';
  if (status === 416) return 'range_not_satisfiable';
  const match = (Object.keys(ERROR_CODES) as ErrorCode[]).find((code) => ERROR_CODES[code] === status);
  if (match) return match;
  return status >= 400 && status < 500 ? 'bad_request' : 'internal';
}

/**
 * The one `onError`. Unknown errors become a bare `internal` with no message detail, so stacks
 * and driver messages (file paths, SQL) never reach clients; they go to stderr instead.
 */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof UpdraftError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    const code = codeForStatus(err.status);
    return errorResponse(c, new UpdraftError(code, err.message || code));
  }
  // A client that hung up mid-body is no fault of ours: no log line, no 5xx to count. Nobody reads
  // this answer; it only has to be a 4xx.
  if (clientGone(err, c)) return errorResponse(c, new UpdraftError('bad_request', 'the client closed the request before its body was read'));
  console.error('updraft: internal error:', err);
  return errorResponse(c, new UpdraftError('internal', 'internal server error'));
};

function clientGone(err: Error, c: Context): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return c.req.raw.signal.aborted || code === 'ECONNRESET' || code === 'ECONNABORTED' || err.message === 'aborted';
}

/** Sub-app `notFound` handlers are ignored once mounted, so app.ts also routes this as a catch-all. */
export const onNotFound: NotFoundHandler = (c) =>
  errorResponse(c, new UpdraftError('not_found', `no route for ${c.req.method} ${c.req.path}`));

/** Reads a JSON body whatever its Content-Type: `sendBeacon` and no-preflight fetches send text/plain. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UpdraftError('invalid_json', 'request body is not valid JSON');
  }
}

