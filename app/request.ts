import { isErrorCode, UpdraftError } from '../protocol/errors.js';
import type { PageRequest, SwReply } from '../protocol/messages.js';

/** Sends one request to the SW (`send` is `wb.messageSW`) and unwraps its `SwReply`. */
export async function request<T>(send: (message: PageRequest) => Promise<unknown>, message: PageRequest): Promise<T> {
  return unwrapReply<T>(await send(message), message.type);
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
