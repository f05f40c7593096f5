/**
 * Pure scheduling decisions: which tasks are due, when the next one will be, how long to back off,
 * and what a Retry-After header means. No clock, no IO: callers pass `now` and `random`.
 */
import type { Plan, Task } from '../protocol/index.js';
import type { StoredPlan, TaskRecord } from './store.js';

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 5 * 60_000;
/** Omaha's cap: a server may hold a client off for a day, never longer. */
export const RETRY_AFTER_CAP_MS = 24 * 60 * 60_000;

export interface ScheduleInput {
  stored: StoredPlan;
  now: number;
  /** Per source origin, local epoch ms before which it must not be asked. */
  holds: Record<string, number>;
  concurrency: number;
}

/** Converts a server-clock time of the plan to the local clock, so clock skew does not matter. */
export function toLocal(plan: Plan, receivedAt: number, serverTime: number): number {
  return receivedAt + (serverTime - (plan.servedAt ?? plan.issuedAt));
}

export function isExpired(stored: StoredPlan, now: number): boolean {
  return now >= toLocal(stored.plan, stored.receivedAt, stored.plan.expiresAt);
}

/** The tasks to start now, in plan order, at most `concurrency` minus those already running. */
export function dueTasks(input: ScheduleInput): Task[] {
  const { stored, now, concurrency } = input;
  if (stored.failure) return [];
  const running = stored.plan.tasks.filter((t) => record(stored, t).state === 'running').length;
  const slots = Math.max(0, concurrency - running);
  if (slots === 0) return [];
  const due: Task[] = [];
  for (const task of stored.plan.tasks) {
    if (due.length === slots) break;
    const at = readyAt(input, task);
    if (at !== null && at <= now) due.push(task);
  }
  return due;
}

/** The earliest local time at which some pending task becomes due, or null when none can by time alone. */
export function nextWakeAt(input: ScheduleInput): number | null {
  if (input.stored.failure) return null;
  let earliest: number | null = null;
  for (const task of input.stored.plan.tasks) {
    const at = readyAt(input, task);
    if (at !== null && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}

/**
 * When `task` may start, or null if it cannot start on time alone (not pending, dependencies not
 * done, or waiting for the page to apply).
 */
function readyAt(input: ScheduleInput, task: Task): number | null {
  const { stored, holds } = input;
  const rec = record(stored, task);
  if (rec.state !== 'pending') return null;
  if (!task.after.every((dep) => stored.tasks[dep]?.state === 'done')) return null;
  if (task.kind === 'activate' && stored.plan.activation === 'prompt' && !stored.applied) return null;
  let at = rec.nextAttemptAt;
  if (task.kind === 'fetch') {
    at = Math.max(at, toLocal(stored.plan, stored.receivedAt, task.notBefore));
    // Every source held: nothing to do before the first hold ends.
    const free = Math.min(...task.sources.map((s) => holds[originOf(s)] ?? 0));
    at = Math.max(at, free);
  }
  return at;
}

function record(stored: StoredPlan, task: Task): TaskRecord {
  return stored.tasks[task.id] ?? { id: task.id, state: 'pending', attempts: 0, nextAttemptAt: 0, lastError: null };
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"),
 * floored at the base so a retry never spins: a delay in [base, min(cap, base * 2^attempts)].
 */
export function backoff(attempts: number, random: number, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempts));
  return Math.max(base, Math.floor(random * ceiling));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) as a local epoch ms: delay-seconds or an HTTP-date, capped at a
 * day. Missing or unparseable → null (the caller backs off itself). A date in the past → now.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | null {
  if (header == null) return null;
  const value = header.trim();
  if (value === '') return null;
  let at: number;
  if (/^\d+$/.test(value)) {
    // Capped before adding: 309 digits or more are Infinity, which read as no Retry-After at all.
    at = now + Math.min(Number(value) * 1000, RETRY_AFTER_CAP_MS);
  } else {
    // Only IMF-fixdate and its obsolete forms have a weekday name or a month name; reject bare numbers like "1.5" or "-3".
    if (!/[A-Za-z]{3}/.test(value)) return null;
    const date = Date.parse(value);
    if (Number.isNaN(date)) return null;
    at = Math.max(now, date);
  }
  if (!Number.isFinite(at)) return null;
  return Math.min(at, now + RETRY_AFTER_CAP_MS);
}
