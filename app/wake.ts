/** The longest delay `setTimeout` honours (2^31 - 1 ms); longer ones fire at once. */
const MAX_DELAY = 2_147_483_647;

export interface WakeTimer {
  /** (Re)arms the timer for local epoch ms `at`; a later `wake-at` replaces an earlier one. */
  schedule(at: number): void;
  cancel(): void;
}

/**
 * Where the browser lacks Background Sync, nothing wakes the SW when its tasks come due: an open
 * page does it instead, by sending `updraft:wake` at the time the SW announced in `wake-at`.
 */
export function createWakeTimer(wake: () => void, now: () => number = Date.now): WakeTimer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    schedule(at) {
      cancel();
      const delay = Math.min(Math.max(0, at - now()), MAX_DELAY);
      timer = setTimeout(() => {
        timer = undefined;
        wake();
      }, delay);
    },
    cancel,
  };
}

export function hasBackgroundSync(scope: object = globalThis): boolean {
  return 'SyncManager' in scope;
}
