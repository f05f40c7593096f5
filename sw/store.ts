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
  /**
   * The network answered the client's document (or worker script), not the release's bytes: a
   * file the release lacks, an entry part lost and not refetchable, or a window that loaded before
   * this worker controlled it. Its subresources still come from `release`, but its `ready()`
   * confirms nothing. Absent: the release's bytes answered it (or a pin from before 0.1.x).
   */
  network?: true;
  /**
   * When garbage collection first found the client gone from `clients.matchAll` (closed, or in the
   * back-forward cache); cleared when it is listed again. The pin goes `ABSENT_GRACE_MS` later (gc.ts).
   */
  absentSince?: number;
}

/**
 * A release activated over `previous` that no page it served has confirmed yet (`ready()`). Its
 * clock starts at the first navigation it serves, not at activation: the user may not open the app
 * for days. Persisted, so a stopped worker finds the deadline at its next wake-up.
 */
export interface BootWatch {
  release: string;
  /** The last confirmed release: what a failed boot returns to. */
  previous: string;
  /** Local clock, epoch ms; null until `release` served a navigation. */
  deadline: number | null;
}

/** A release rolled back for failing to boot; plans to it are ignored. */
export interface BadRelease {
  release: string;
  /** Local clock, epoch ms. */
  at: number;
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
  /** Written only by `activateStaged`, `rollBack`, `startBootClock` and `confirmBoot`, each one transaction. */
  boot: BootWatch | null;
  /** Oldest first, at most `BAD_RELEASES_MAX`. Written only by `rollBack`. */
  badReleases: BadRelease[];
  /** A page of this app called `ready()` once: only then are activations watched (see `readiness.ts`). */
  readySeen: boolean;
  /** Release id → its sequence, learned from accepted plans; the floor for rollback protection. Newest last, at most `SEQS_MAX`. */
  releaseSeqs: [string, number][];
  /** The server's acknowledgement of this client's recorded state, from the last check-in answer; sent back with the next. */
  recorded: string;
  /**
   * A plan document an answer named could not be had or did not check out: the next check-in
   * leaves out `caps.planRefs`, so the server sends the plan inline (a deployment whose servers
   * make different documents, or a cache in front that serves a stale 404, still updates).
   */
  inlinePlansOnce: boolean;
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
  /**
   * One transaction: store the release and set `staged`. With `planId`, only unless that plan was
   * withdrawn (`dropHeld`; else nothing changes): an install that was running when its plan was
   * dropped must not stage the release the server withdrew. The transaction does not hold the
   * plan store (pages and the task runner read it while an install writes).
   */
  stage(release: ReleaseManifest, planId?: string): Promise<Pointers>;
  /**
   * One transaction: previous = active, active = staged, staged = null, and `Meta.boot` = a watch on
   * the new active release when `watch` (else null). When the release being replaced was itself
   * unconfirmed, `previous` stays the last confirmed release. No-op without a staged release.
   */
  activateStaged(watch?: boolean): Promise<Pointers>;
  /**
   * One transaction, when `release` is active and watched: active = the watch's previous,
   * previous = null, the watch cleared, `release` added to `Meta.badReleases`, `report` queued in
   * the outbox. Returns the pointers after, or null (nothing changed) when `release` is not the
   * watched active release.
   */
  rollBack(release: string, report: Report, at: number): Promise<Pointers | null>;
  /** One transaction: sets the watch's deadline if `release` is watched and its clock not started. Returns the watch after. */
  startBootClock(release: string, deadline: number): Promise<BootWatch | null>;
  /** One transaction: clears the watch if it is on `release`. Returns whether it was. */
  confirmBoot(release: string): Promise<boolean>;

  getPlan(): Promise<StoredPlan | null>;
  /** Replaces the current plan and every task record in one transaction. */
  putPlan(plan: StoredPlan): Promise<void>;
  /** Writes task records, only while `planId` is still the current plan (a replaced plan's tasks must not leak into the new one). */
  putTasks(planId: string, tasks: TaskRecord[]): Promise<void>;
  /** Updates the plan header (applied, failure) without touching task records. */
  updatePlan(planId: string, patch: Partial<Pick<StoredPlan, 'applied' | 'failure'>>): Promise<void>;
  clearPlan(): Promise<void>;
  /**
   * One transaction (the server withdrew what this worker holds: `drop`, protocol 0.5): the plan
   * and every task record cleared, `staged` = null, `reports` queued in the outbox. `active`,
   * `previous` and the boot watch stay. Returns the pointers after.
   */
  dropHeld(reports: Report[]): Promise<Pointers>;

  pins(): Promise<Pin[]>;
  putPin(pin: Pin): Promise<void>;
  deletePins(clientIds: string[]): Promise<void>;

  addReports(reports: Report[]): Promise<void>;
  outbox(limit: number): Promise<OutboxEntry[]>;
  deleteOutbox(ids: number[]): Promise<void>;
}
