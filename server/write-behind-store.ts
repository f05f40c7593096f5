import type { ClientRecord, Store } from './store.js';

export interface WriteBehindOptions {
  /** Pending client records are written at most this long after their check-in, ms. @default 200 */
  flushMs?: number;
  /** ...or as soon as this many distinct clients are pending. @default 2000 */
  maxRows?: number;
  /** Where a failed flush is reported; its records are kept and retried on the next flush. @default console.error */
  onError?: (err: unknown) => void;
}

const keyOf = (c: ClientRecord) => `${c.app}\n${c.id}`;

/**
 * A Store whose `upsertClient` is write-behind: check-ins only put the record in a map (a client
 * checking in twice before a flush is written once), and the map is written in one transaction
 * every `flushMs` or every `maxRows` clients. Everything else passes straight through.
 *
 * Nothing is lost on a graceful stop: `close()` flushes before closing the inner store, and
 * `countClients` and `channelActivations` flush first so status and the dashboard read what check-ins wrote. A crash loses at most the
 * last `flushMs` of last-seen times, which the next check-in of each client rewrites.
 */
export class WriteBehindStore implements Store {
  readonly inner: Store;
  readonly #flushMs: number;
  readonly #maxRows: number;
  readonly #onError: (err: unknown) => void;
  #pending = new Map<string, ClientRecord>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Only present when the inner store has one. */
  readonly changeCounter?: () => number;

  constructor(inner: Store, o: WriteBehindOptions = {}) {
    this.inner = inner;
    this.#flushMs = o.flushMs ?? 200;
    this.#maxRows = o.maxRows ?? 2000;
    this.#onError = o.onError ?? ((err) => console.error('updraft: writing client state failed, will retry:', err));
    if (inner.changeCounter) this.changeCounter = () => inner.changeCounter!();
  }

  /** Client records waiting for the next flush. */
  get pending(): number {
    return this.#pending.size;
  }

  async upsertClient(client: ClientRecord): Promise<void> {
    if (!this.queueClient(client)) return this.inner.upsertClient(client);
  }

  /** Puts the record in the next batch, with no promise to wait for; false once closed. */
  queueClient(client: ClientRecord): boolean {
    if (this.#closed) return false;
    const key = keyOf(client);
    // Re-inserting moves the key to the end, so the latest write wins in the batch order too.
    this.#pending.delete(key);
    this.#pending.set(key, client);
    if (this.#pending.size >= this.#maxRows) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs);
    return true;
  }

  async upsertClients(clients: readonly ClientRecord[]): Promise<void> {
    for (const c of clients) await this.upsertClient(c);
  }

  /** Writes every pending record now; resolves when they (and any flush before) are written. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.size === 0) return this.#flushing;
    // The batch is taken when its turn comes, not now: records that arrive while an earlier batch is
    // being written wait here until that write's outcome is known. A failed batch goes back under
    // them (`#write`); taken now, they would be written first and the failed, older batch after them.
    this.#flushing = this.#flushing.then(() => {
      const batch = this.#pending;
      this.#pending = new Map();
      return batch.size === 0 ? undefined : this.#write(batch);
    });
    return this.#flushing;
  }

  async #write(batch: Map<string, ClientRecord>): Promise<void> {
    const rows = [...batch.values()];
    try {
      if (this.inner.upsertClients) await this.inner.upsertClients(rows);
      else for (const r of rows) await this.inner.upsertClient(r);
    } catch (err) {
      this.#onError(err);
      // Put the batch back under anything newer that arrived meanwhile, and try again later.
      for (const [k, r] of batch) if (!this.#pending.has(k)) this.#pending.set(k, r);
      if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs);
    }
  }

  async countClients(app?: string): ReturnType<Store['countClients']> {
    await this.flush();
    return this.inner.countClients(app);
  }

  /** Flushes first too: which channel a client is on is in the records it buffers. */
  async channelActivations(app: string, limit: number): ReturnType<Store['channelActivations']> {
    await this.flush();
    return this.inner.channelActivations(app, limit);
  }

  /** Flushes, then closes the inner store. A failed final flush is thrown, not swallowed. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.flush();
      if (this.#pending.size > 0) {
        const left = [...this.#pending.values()];
        this.#pending.clear();
        if (this.inner.upsertClients) await this.inner.upsertClients(left);
        else for (const r of left) await this.inner.upsertClient(r);
      }
    } finally {
      // Closed whatever the last write did: a connection left open would keep the process alive.
      await this.inner.close();
    }
  }

  insertRelease: Store['insertRelease'] = (m, now) => this.inner.insertRelease(m, now);
  getRelease: Store['getRelease'] = (id) => this.inner.getRelease(id);
  listReleases: Store['listReleases'] = (app) => this.inner.listReleases(app);
  latestRelease: Store['latestRelease'] = (app) => this.inner.latestRelease(app);
  listApps: Store['listApps'] = () => this.inner.listApps();
  getChannel: Store['getChannel'] = (app, name) => this.inner.getChannel(app, name);
  putChannel: Store['putChannel'] = (app, name, u, now) => this.inner.putChannel(app, name, u, now);
  pauseChannel: Store['pauseChannel'] = (app, name, release, reason, now) => this.inner.pauseChannel(app, name, release, reason, now);
  listChannels: Store['listChannels'] = (app) => this.inner.listChannels(app);
  insertReports: Store['insertReports'] = (r, now) => this.inner.insertReports(r, now);
  releaseHealth: Store['releaseHealth'] = (app, release, since) => this.inner.releaseHealth(app, release, since);
  reportCounts: Store['reportCounts'] = (app) => this.inner.reportCounts(app);
  recentReports: Store['recentReports'] = (limit, app) => this.inner.recentReports(limit, app);
  putBlob: Store['putBlob'] = (sha, size) => this.inner.putBlob(sha, size);
  blobSizes: Store['blobSizes'] = (shas) => this.inner.blobSizes(shas);
  missingBlobs: Store['missingBlobs'] = (shas) => this.inner.missingBlobs(shas);
  hasBlobs: Store['hasBlobs'] = (shas) => this.inner.hasBlobs(shas);
  insertToken: Store['insertToken'] = (t) => this.inner.insertToken(t);
  getToken: Store['getToken'] = (id) => this.inner.getToken(id);
  listTokens: Store['listTokens'] = () => this.inner.listTokens();
  deleteToken: Store['deleteToken'] = (id) => this.inner.deleteToken(id);
}

/** `store` with write-behind client state; see WriteBehindStore. */
export function writeBehind(store: Store, o?: WriteBehindOptions): WriteBehindStore {
  return new WriteBehindStore(store, o);
}
