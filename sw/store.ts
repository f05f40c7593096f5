/**
 * The worker's persistent state behind one small interface, with two implementations:
 * `idb-store.ts` (IndexedDB database `updraft`) and `memory-store.ts` (tests, and the fallback
 * when IndexedDB cannot be opened). One test suite (`store.test.ts`) describes both.
 */
import type { ErrorCode, Plan, ReleaseManifest, Report } from '../protocol/index.js';

export type TaskState = 'pending' | 'running' | 'done' | 'failed';

export interface TaskRecord {
  id: string;
  state: TaskState;
  attempts: number;
  /** Local clock, epoch ms; 0 when never deferred. */
  nextAttemptAt: number;
  lastError: string | null;
}

export interface StoredPlan {
  plan: Plan;
  /** Local clock when the plan arrived: converts the plan's server times to local ones. */
  receivedAt: number;
  /** The page asked to apply (prompt policy). */
  applied: boolean;
  /** Set once the plan failed for good; nothing more runs. */
  failure: { code: ErrorCode; message: string } | null;
  tasks: Record<string, TaskRecord>;
}

export interface Pointers {
  active: string | null;
  staged: string | null;
  previous: string | null;
}

export interface Pin {
  clientId: string;
  release: string;
  createdAt: number;
}

export interface Meta {
  clientId: string;
  nextCheckInAt: number;
  checkInHoldUntil: number;
  checkInFailures: number;
  /** Per source origin: no request before this local time (429/503 + Retry-After). */
  holds: Record<string, number>;
  outboxRetryAt: number;
  outboxFailures: number;
  /** Whether the last periodic sync registration succeeded (reported in check-in caps). */
  periodicSync: boolean;
}

export interface OutboxEntry {
  id: number;
  report: Report;
}

export interface SwStore {
  getMeta<K extends keyof Meta>(key: K): Promise<Meta[K] | undefined>;
  setMeta<K extends keyof Meta>(key: K, value: Meta[K]): Promise<void>;

  getRelease(id: string): Promise<ReleaseManifest | undefined>;
  releaseIds(): Promise<string[]>;
  deleteReleases(ids: string[]): Promise<void>;

  pointers(): Promise<Pointers>;
  /** One transaction: store the release and make it active unless one is. Returns the pointers after. */
  installInitial(release: ReleaseManifest): Promise<Pointers>;
  /** One transaction: store the release and set `staged`. */
  stage(release: ReleaseManifest): Promise<Pointers>;
  /** One transaction: previous = active, active = staged, staged = null. No-op without a staged release. */
  activateStaged(): Promise<Pointers>;

  getPlan(): Promise<StoredPlan | null>;
  /** Replaces the current plan and every task record in one transaction. */
  putPlan(plan: StoredPlan): Promise<void>;
  /** Writes task records, only while `planId` is still the current plan (a replaced plan's tasks must not leak into the new one). */
  putTasks(planId: string, tasks: TaskRecord[]): Promise<void>;
  /** Updates the plan header (applied, failure) without touching task records. */
  updatePlan(planId: string, patch: Partial<Pick<StoredPlan, 'applied' | 'failure'>>): Promise<void>;
  clearPlan(): Promise<void>;

  pins(): Promise<Pin[]>;
  putPin(pin: Pin): Promise<void>;
  deletePins(clientIds: string[]): Promise<void>;

  addReports(reports: Report[]): Promise<void>;
  outbox(limit: number): Promise<OutboxEntry[]>;
  deleteOutbox(ids: number[]): Promise<void>;
}
