import type { StoredToken } from './admin-token.js';
import type { Capabilities, ChannelState, ChannelUpdate, ErrorCode, ReleaseManifest, Report, StatusResponse } from '../protocol/index.js';

/** A report as `recentReports` lists it, with the channel its client last checked in on. */
export type ChannelActivation = StatusResponse['recentReports'][number] & { channel: string };

export interface StoredRelease {
  manifest: ReleaseManifest;
  /** Monotonic per app, assigned at publish (1, 2, ...). */
  seq: number;
  /** Server clock, epoch ms. */
  publishedAt: number;
  /**
   * Its id covers `sw.js` (`releaseIdForm` is `'sw'`: built since protocol 0.6), so only workers
   * that say `caps.swIds` are offered it. Found once, at insert; false for every release an older
   * server stored (it accepted no other form).
   */
  idCoversSw: boolean;
}

export interface ClientRecord {
  id: string;
  app: string;
  channel: string;
  release: string | null;
  staged: string | null;
  caps: Capabilities;
  lastSeen: number;
}

export interface InsertReleaseResult { seq: number; created: boolean }

/**
 * A `ChannelUpdate` as the store applies it. Without `release` it keeps the release the channel
 * has when the change is written (read under the store's lock, so a move committed meanwhile by
 * another request or server is kept, not undone); the channel must then exist.
 */
export type ChannelChange = ChannelUpdate;

/**
 * Distinct clients that reported on one release: `clients` sent downloaded, activated or a
 * counted failed; `failed` sent a counted failed, or boot-failed. A `failed` whose code says
 * nothing about the release (`NOT_THE_RELEASE`) counts in neither.
 */
export interface ReleaseHealth { clients: number; failed: number }

/**
 * Failure codes that are about the device or the rollout, not the release: a plan that outlived
 * its 24 h (a device offline, a slot far ahead), a full disk, a newer plan, a withdrawal. Counted
 * as failures, a fleet of phones that sleep for a day would pause a sound release.
 */
export const NOT_THE_RELEASE = ['plan_expired', 'quota', 'superseded', 'withdrawn'] as const satisfies readonly ErrorCode[];

/** SQL for a report that counts as a failure of its release (`event`, `code` columns; the codes are constants). */
export const COUNTED_FAILURE_SQL = `(event = 'boot-failed' OR (event = 'failed' AND (code IS NULL OR code NOT IN (${NOT_THE_RELEASE.map((c) => `'${c}'`).join(', ')}))))`;

/**
 * Everything the server persists except blob bytes. Every method is async because the
 * PostgreSQL store will implement the same interface; the SQLite one just resolves at once.
 */
export interface Store {
  /**
   * Inserts a release, assigning the app's next `seq` in the same transaction, and records the form
   * of its id (`StoredRelease.idCoversSw`). An existing id returns its seq with `created: false`.
   */
  insertRelease(manifest: ReleaseManifest, now: number): Promise<InsertReleaseResult>;
  getRelease(id: string): Promise<StoredRelease | null>;
  /** Oldest first; every app when `app` is omitted. */
  listReleases(app?: string): Promise<StoredRelease[]>;
  latestRelease(app: string): Promise<StoredRelease | null>;
  /** Apps with at least one release. */
  listApps(): Promise<string[]>;

  getChannel(app: string, name: string): Promise<ChannelState | null>;
  /**
   * Creates or updates a channel. When `release` changes, `previous` becomes the old release and
   * the channel is resumed unless `paused` is given. `pausedReason` is kept only while paused.
   * Without `release` on a channel that does not exist: `UpdraftError('unknown_channel')`; a
   * minimum newer than the release it leaves: `UpdraftError('minimum_ahead')` (`nextChannel`).
   * `forwardOnly` with a `release` older than the channel's: nothing is written, and the state
   * returned is the channel's, its `release` not the one asked for.
   */
  putChannel(app: string, name: string, update: ChannelChange, now: number): Promise<ChannelState>;
  /**
   * Pauses the channel with `reason` if it still targets `release` and is not paused yet, in one
   * statement (an admin moving the channel meanwhile wins). Returns the new state, or null when
   * nothing changed.
   */
  pauseChannel(app: string, name: string, release: string, reason: string, now: number): Promise<ChannelState | null>;
  listChannels(app?: string): Promise<ChannelState[]>;

  upsertClient(client: ClientRecord): Promise<void>;
  /**
   * Optional: `upsertClient` for a store that only queues the record (write-behind), without a
   * promise per check-in. True when queued; false when the caller must `upsertClient` instead.
   */
  queueClient?(client: ClientRecord): boolean;
  /**
   * Optional: many client records in one transaction (the write-behind buffer flushes through it;
   * without it, it falls back to `upsertClient` one by one). Later records win over earlier ones.
   */
  upsertClients?(clients: readonly ClientRecord[]): Promise<void>;
  countClients(app?: string): Promise<StatusResponse['clients']>;

  insertReports(reports: readonly Report[], now: number): Promise<void>;
  reportCounts(app?: string): Promise<StatusResponse['reportCounts']>;
  recentReports(limit: number, app?: string): Promise<StatusResponse['recentReports']>;
  /**
   * The `activated` and `boot-failed` reports of `app`'s clients, each with the channel of the
   * client's latest check-in, newest first, at most `limit`: what the dashboard draws each
   * channel's clients per release over time from, in one pass per app whatever its number of
   * channels. Reports of a client that never checked in are not among them.
   */
  channelActivations(app: string, limit: number): Promise<ChannelActivation[]>;
  /** Failure counts for the automatic pause (see `ReleaseHealth`), of the reports received at or after `since` (server clock; default 0: all). */
  releaseHealth(app: string, release: string, since?: number): Promise<ReleaseHealth>;

  /** Records that the blob store holds these bytes (called after the file is renamed into place). */
  putBlob(sha256: string, size: number): Promise<void>;
  /** Sizes of the known blobs among `sha256s`. */
  blobSizes(sha256s: readonly string[]): Promise<Map<string, number>>;
  missingBlobs(sha256s: readonly string[]): Promise<string[]>;
  hasBlobs(sha256s: readonly string[]): Promise<boolean>;

  /** Stores a new admin token record (its id is random and new: an existing id is an error). */
  insertToken(token: StoredToken): Promise<void>;
  /** The token record with this id, or null. Read on every admin request. */
  getToken(id: string): Promise<StoredToken | null>;
  /** Oldest first. */
  listTokens(): Promise<StoredToken[]>;
  /** Deletes a token record; false when there was none. */
  deleteToken(id: string): Promise<boolean>;

  /**
   * Optional, synchronous and cheap (it is read on every check-in): a number that changes whenever
   * a release is inserted or a channel changes. The check-in cache drops its answers when it moves.
   * SQLite counts the changes made through its own object; a store shared by several processes
   * should keep it current from the database (e.g. PostgreSQL LISTEN/NOTIFY on a change-counter
   * row bumped in the same transactions). Without it, cached answers live up to one second.
   */
  changeCounter?(): number;

  close(): Promise<void>;
}
