import { isErrorCode, UpdraftError } from '../protocol/errors.js';
import type { PageRequest, SwReply } from '../protocol/messages.js';

/**
 * How long a page waits for the SW's reply. A reply comes over a MessageChannel that nothing
 * closes: a worker stopped or replaced mid-request never answers, and the page would wait for good.
 * The SW's own network waits are bounded well inside this (30 s per stall).
 */
export const REPLY_TIMEOUT_MS = 90_000;

/**
 * Sends one request to the SW (`send` is `wb.messageSW`) and unwraps its `SwReply`. No reply
 * within `timeoutMs` (null: wait as long as it takes) is an `UpdraftError` with code `transport`.
 */
export async function request<T>(send: (message: PageRequest) => Promise<unknown>, message: PageRequest, timeoutMs: number | null = REPLY_TIMEOUT_MS): Promise<T> {
  if (timeoutMs === null) return unwrapReply<T>(await send(message), message.type);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UpdraftError('transport', `the service worker did not answer ${message.type} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return unwrapReply<T>(await Promise.race([send(message), late]), message.type);
  } finally {
    clearTimeout(timer);
  }
}

/** `ok: true` → its value; `ok: false` → an `UpdraftError` with the SW's code; anything else → `internal`. */
export function unwrapReply<T>(reply: unknown, what: string): T {
  if (typeof reply === 'object' && reply !== null && 'ok' in reply) {
    const r = reply as SwReply<T>;
    if (r.ok) return r.value;
    throw new UpdraftError(isErrorCode(r.code) ? r.code : 'internal', r.message ?? `${what} failed`);
  }
  throw new UpdraftError('internal', `${what}: the service worker sent no Updraft reply`, { reply });
}
