/**
 * Reads a response body but never more than `max + 1` bytes: a source that sends more than a part's
 * signed size (by mistake or to exhaust memory and storage, TUF's "endless data" attack) is cut
 * off as soon as it has shown it, and the stream is cancelled.
 */
export class TooLarge extends Error {
  constructor(readonly max: number) {
    super(`more than ${max} bytes`);
  }
}

export interface ReadOptions {
  /** Runs after each chunk (a stall watchdog's `kick`). */
  onChunk?: () => void;
  /** Cancels the body when aborted: a stalled read must not hold the connection. */
  signal?: AbortSignal;
}

/** Lets go of a body nobody will read, so its connection is free; a failure to cancel changes nothing. */
export function cancelBody(res: Response): undefined {
  void res.body?.cancel().catch(() => {});
  return undefined;
}

export async function readCapped(res: Response, max: number, o: ReadOptions = {}): Promise<ArrayBuffer> {
  const length = Number(res.headers.get('content-length'));
  // Content-Length counts encoded bytes; a compressed body may decode larger, so only an identity
  // length is conclusive before reading.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (!encoded && Number.isFinite(length) && length > max) {
    cancelBody(res);
    throw new TooLarge(max);
  }
  if (!res.body) return res.arrayBuffer();
  const reader = res.body.getReader();
  o.signal?.addEventListener('abort', () => void reader.cancel(o.signal?.reason).catch(() => {}), { once: true });
  const out = new Uint8Array(max);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    o.onChunk?.();
    if (size + value.byteLength > max) {
      void reader.cancel().catch(() => {});
      throw new TooLarge(max);
    }
    out.set(value, size);
    size += value.byteLength;
  }
  return out.buffer.slice(0, size);
}
