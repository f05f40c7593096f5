import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createWakeTimer, hasBackgroundSync } from './wake.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => vi.useRealTimers());

test('wakes the SW at the announced time, once', () => {
  const wake = vi.fn();
  createWakeTimer(wake).schedule(1_000_000 + 5_000);
  vi.advanceTimersByTime(4_999);
  expect(wake).not.toHaveBeenCalled();
  vi.advanceTimersByTime(1);
  expect(wake).toHaveBeenCalledTimes(1);
  vi.advanceTimersByTime(60_000);
  expect(wake).toHaveBeenCalledTimes(1);
});

test('a later wake-at replaces the earlier one; a past one fires at once', () => {
  const wake = vi.fn();
  const timer = createWakeTimer(wake);
  timer.schedule(1_000_000 + 5_000);
  timer.schedule(1_000_000 + 10_000);
  vi.advanceTimersByTime(9_999);
  expect(wake).not.toHaveBeenCalled();
  vi.advanceTimersByTime(1);
  expect(wake).toHaveBeenCalledTimes(1);

  timer.schedule(0);
  vi.advanceTimersByTime(0);
  expect(wake).toHaveBeenCalledTimes(2);
});

test('cancel stops a pending wake', () => {
  const wake = vi.fn();
  const timer = createWakeTimer(wake);
  timer.schedule(1_000_000 + 1_000);
  timer.cancel();
  vi.advanceTimersByTime(10_000);
  expect(wake).not.toHaveBeenCalled();
});

test('hasBackgroundSync looks for SyncManager', () => {
  expect(hasBackgroundSync({ SyncManager: class {} })).toBe(true);
  expect(hasBackgroundSync({})).toBe(false);
});
