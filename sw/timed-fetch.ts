/**
 * Deadlines on the worker's clock (the adapter's timers, so tests drive them with the fake clock).
 * A source that accepts the connection and then stalls would otherwise hold its task, or a
 * check-in and every check-in joined to it, until the browser ends the worker's event.
 */
import type { Adapter } from './adapter.js';
import type { SwContext } from './context.js';

/** The worker's timers: `ctx.adapter`, or in `main.ts` the global ones (the precache runs there). */
export type Timers = Pick<Adapter, 'setTimeout' | 'clearTimeout'>;

/** For a check-in, a report batch or a plan document: the longest wait for the headers or for the next chunk of the body. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** For a part: the longest wait for the headers or for the next chunk of the body. */
export const PART_IDLE_TIMEOUT_MS = 30_000;
/**
 * For a check-in, a report batch or a plan document: the longest the whole request may take. A
 * source that trickles a chunk just inside the idle timeout would otherwise hold the check-in (and
 * every check-in joined to it) for as long as it likes. Parts have no such limit: a large one on a
 * slow link may take long, and a part holds only its own task.
 */
export const REQUEST_TOTAL_MS = 120_000;

export class RequestTimeout extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly url: string, readonly ms: number, what = 'no answer') {
    super(`${what} from ${url} within ${ms / 1000} s`);
  }
}

export interface Watchdog {
  /** Pass to fetch: aborted when the watchdog fires. */
  signal: AbortSignal;
  /** Rejects with `RequestTimeout` when the watchdog fires first. */
  guard<T>(work: Promise<T>): Promise<T>;
  /** Progress: the timer starts over. */
  kick(): void;
  /** Stops the timer. */
  done(): void;
  /** Aborts the request now, with `reason` (another deadline passed). */
  abort(reason: unknown): void;
}

/**
 * Fires when `ms` pass without a `kick()`: aborts the request and fails what it guards. `parent`
 * (a task's signal, running-tasks.ts) does the same when it aborts, with its reason.
 */
export function watchdog(timers: Timers, url: string, ms: number, parent?: AbortSignal): Watchdog {
  const controller = new AbortController();
  let timer: unknown = null;
  let fire: (e: unknown) => void = () => {};
  const fired = new Promise<never>((_, reject) => (fire = reject));
  fired.catch(() => {}); // only the guarded work reports it
  const arm = () => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = timers.setTimeout(() => {
      const err = new RequestTimeout(url, ms);
      controller.abort(err);
      fire(err);
    }, ms);
  };
  arm();
  const cancel = () => {
    controller.abort(parent!.reason);
    fire(parent!.reason);
  };
  if (parent?.aborted) cancel();
  else parent?.addEventListener('abort', cancel, { once: true });
  return {
    signal: controller.signal,
    guard: (work) => Promise.race([work, fired]),
    kick: arm,
    done: () => {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      parent?.removeEventListener('abort', cancel);
    },
    abort: (reason) => controller.abort(reason),
  };
}

/**
 * `fetch`, then `read` its answer, under one watchdog of `ms`: for the headers, and then for each
 * next chunk of the body when `read` calls `progress` per chunk (`readCapped`'s `onChunk`). Rejects
 * with `RequestTimeout` when it fires (and aborts the request, body included). For the answers the
 * worker reads whole (check-in, plan document, a refetched part): a server that sends its headers
 * and then stalls must not hold the check-in, and every check-in joined to it, any more than one
 * that never answers. A slow link that keeps delivering is not cut off. Parts fetched by a plan
 * use `watchdog` directly (fetch-part.ts), the same way.
 */
export async function timedRequest<T>(
  ctx: SwContext, url: string, init: RequestInit, read: (res: Response, progress: () => void) => Promise<T>, ms = REQUEST_TIMEOUT_MS, totalMs = REQUEST_TOTAL_MS,
): Promise<T> {
  const dog = watchdog(ctx.adapter, url, ms);
  // The whole request's limit: its own timer, aborting the same request.
  let timesUp: (e: RequestTimeout) => void = () => {};
  const total = new Promise<never>((_, reject) => (timesUp = reject));
  const timer = ctx.adapter.setTimeout(() => {
    const err = new RequestTimeout(url, totalMs, 'no complete answer');
    dog.abort(err);
    timesUp(err);
  }, totalMs);
  try {
    return await Promise.race([
      dog.guard(ctx.adapter.fetch(url, { ...init, signal: dog.signal }).then((res) => {
        dog.kick();
        return read(res, dog.kick);
      })),
      total,
    ]);
  } finally {
    ctx.adapter.clearTimeout(timer);
    dog.done();
  }
}
