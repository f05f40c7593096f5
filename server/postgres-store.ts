import pg from 'pg';
import { releaseIdForm, type ChannelState, type ReleaseManifest, type Report, type StatusResponse } from '../protocol/index.js';
import type { StoredToken } from './admin-token.js';
import { channelSeqIds, nextChannel } from './channel-change.js';
import { RELEASE_COLUMNS, toChannel, toRelease, toToken, type ChannelRow, type ReleaseRow, type TokenRow } from './store-rows.js';
import { COUNTED_FAILURE_SQL, type ChannelActivation, type ChannelChange, type ClientRecord, type InsertReleaseResult, type ReleaseHealth, type Store, type StoredRelease } from './store.js';

/** Bumped with each schema change; `open` migrates from `updraft_meta.schema_version`. */
const SCHEMA_VERSION = 2;

/**
 * Advisory lock keys (two-int form: namespace, key). Schema creation takes one for the whole
 * cluster of servers; publishing takes one per app so `seq` is assigned one writer at a time,
 * also when the app has no release yet (there is no row to `SELECT ... FOR UPDATE`).
 */
const LOCK_NS = 0x75_70_64_72; // 'updr'
const SCHEMA_LOCK = 1;
/** Namespace of the per-channel locks taken by `putChannel` (key: hashtext of app and name). */
const CHANNEL_LOCK_NS = LOCK_NS + 1;

/** The NOTIFY channel carrying `updraft_changes.counter`. */
const CHANGES = 'updraft_changes';
/** Delay before re-opening a lost LISTEN connection, ms. */
const RELISTEN_MS = 1000;

/** Byte order, as SQLite compares: listings sort the same on both stores whatever the database locale. */
const TEXT = 'TEXT COLLATE "C"';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS updraft_meta (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
  id ${TEXT} PRIMARY KEY,
  app ${TEXT} NOT NULL,
  seq INTEGER NOT NULL,
  version TEXT NOT NULL,
  created_at TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  manifest TEXT NOT NULL,
  UNIQUE (app, seq)
);
CREATE TABLE IF NOT EXISTS channels (
  app ${TEXT} NOT NULL,
  name ${TEXT} NOT NULL,
  release ${TEXT} NOT NULL REFERENCES releases(id),
  previous ${TEXT} REFERENCES releases(id),
  percent DOUBLE PRECISION NOT NULL,
  activation TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (app, name)
);
-- Schema 2: pause and minimum release. IF NOT EXISTS upgrades a schema 1 database in place.
ALTER TABLE channels ADD COLUMN IF NOT EXISTS paused BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE channels ADD COLUMN IF NOT EXISTS paused_reason TEXT;
ALTER TABLE channels ADD COLUMN IF NOT EXISTS minimum ${TEXT} REFERENCES releases(id);
-- Added within schema 2: an older server ignores it (its automatic pause counts every report).
ALTER TABLE channels ADD COLUMN IF NOT EXISTS sample_since BIGINT NOT NULL DEFAULT 0;
-- Added within schema 2: FALSE is right for every release an older server stored (it accepted only
-- ids of the app's files), and one cannot store another form.
ALTER TABLE releases ADD COLUMN IF NOT EXISTS id_covers_sw BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE IF NOT EXISTS clients (
  app ${TEXT} NOT NULL,
  id ${TEXT} NOT NULL,
  channel ${TEXT} NOT NULL,
  release ${TEXT},
  staged ${TEXT},
  caps TEXT NOT NULL,
  last_seen BIGINT NOT NULL,
  PRIMARY KEY (app, id)
);
CREATE TABLE IF NOT EXISTS reports (
  n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client ${TEXT} NOT NULL,
  app ${TEXT} NOT NULL,
  plan_id TEXT,
  release ${TEXT} NOT NULL,
  event ${TEXT} NOT NULL,
  code ${TEXT},
  message TEXT,
  at DOUBLE PRECISION NOT NULL,
  received_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_release ON reports (app, release, event, code);
CREATE INDEX IF NOT EXISTS reports_by_client ON reports (app, release, client);
CREATE TABLE IF NOT EXISTS blobs (
  sha256 ${TEXT} PRIMARY KEY,
  size BIGINT NOT NULL,
  stored_at BIGINT NOT NULL
);
-- Admin tokens: the SHA-256 of each, never the token. A new table only (older servers ignore it).
CREATE TABLE IF NOT EXISTS updraft_tokens (
  id ${TEXT} PRIMARY KEY,
  sha256 TEXT NOT NULL,
  scopes TEXT NOT NULL,
  name TEXT,
  created_at BIGINT NOT NULL
);
-- PostgresSlotLedger: load booked per source and time bucket, and each client's reserved slots.
-- New tables only (older servers ignore them), so no schema version of their own.
CREATE TABLE IF NOT EXISTS updraft_slots (
  source ${TEXT} NOT NULL,
  bucket BIGINT NOT NULL,
  bytes DOUBLE PRECISION NOT NULL,
  requests DOUBLE PRECISION NOT NULL,
  is_full BOOLEAN NOT NULL,
  PRIMARY KEY (source, bucket)
);
CREATE TABLE IF NOT EXISTS updraft_slot_reservations (
  client ${TEXT} PRIMARY KEY,
  target ${TEXT} NOT NULL,
  not_before TEXT NOT NULL,
  source_first TEXT NOT NULL,
  last_slot BIGINT NOT NULL
);
-- changeCounter(): bumped by any statement writing releases or channels (ours, another server's,
-- a script's) in its own transaction, and announced to every server on commit.
CREATE TABLE IF NOT EXISTS updraft_changes (
  one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  counter BIGINT NOT NULL
);
INSERT INTO updraft_changes (counter) VALUES (0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION updraft_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE c BIGINT;
BEGIN
  UPDATE updraft_changes SET counter = counter + 1 RETURNING counter INTO c;
  PERFORM pg_notify('${CHANGES}', c::text);
  RETURN NULL;
END $$;
-- DROP + CREATE rather than CREATE OR REPLACE TRIGGER, which needs PostgreSQL 14.
DROP TRIGGER IF EXISTS releases_changed ON releases;
CREATE TRIGGER releases_changed AFTER INSERT OR UPDATE OR DELETE ON releases FOR EACH STATEMENT EXECUTE FUNCTION updraft_changed();
DROP TRIGGER IF EXISTS channels_changed ON channels;
CREATE TRIGGER channels_changed AFTER INSERT OR UPDATE OR DELETE ON channels FOR EACH STATEMENT EXECUTE FUNCTION updraft_changed();
`;

/** `?app` filters are optional; NULL matches everything. */
const APP = '($1::text IS NULL OR app = $1)';

/**
 * PostgreSQL text cannot hold U+0000, which SQLite stores; free-form strings from clients and
 * manifests get U+FFFD instead of failing the whole request.
 */
const text = (s: string | null | undefined) => (s == null ? null : s.replaceAll('\0', '\uFFFD'));

/** BIGINT (epoch ms, sizes, COUNT(*)) as a JS number: every value we store is far below 2^53. */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(pg.types.builtins.INT8, Number);

export interface PostgresStoreOptions {
  /** Connections in the pool. @default 10 */
  max?: number;
}

/**
 * The `Store` on PostgreSQL, for several server processes (or machines) sharing one rollout
 * state. Same semantics as `SqliteStore`; blob bytes still live in each server's `BlobStore`,
 * so the processes need one shared blob directory (or a CDN in front of one origin).
 * `changeCounter()` follows releases and channels changed by any of them (LISTEN/NOTIFY), so a
 * check-in cache in each process drops its answers a moment after another one publishes.
 */
export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  readonly #url: string;
  #closed: Promise<void> | null = null;
  /** `updraft_changes.counter`: as last announced to our LISTEN connection, or read in our own change's transaction. */
  #remote = 0;
  #listener: pg.Client | null = null;
  /** True once the listener has LISTENed and read the counter: only then is `#remote` current. */
  #listening = false;
  #relisten: ReturnType<typeof setTimeout> | null = null;
  /** Bumped on every read while not listening, so no cached answer is ever reused then. */
  #blind = 0;

  private constructor(pool: pg.Pool, url: string) {
    this.pool = pool;
    this.#url = url;
  }

  /** Connects and creates or migrates the schema (one process at a time, under an advisory lock). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, types: TYPES, application_name: 'updraft' });
    // An idle connection dropped by the server (restart, failover) is discarded by the pool; the
    // next query opens a new one. Without a listener the 'error' event would kill the process.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, url);
    try {
      await store.#transaction(async (db) => {
        await db.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NS, SCHEMA_LOCK]);
        await db.query(SCHEMA);
        const { rows } = await db.query<{ schema_version: number }>('SELECT schema_version FROM updraft_meta');
        const version = rows[0]?.schema_version ?? 0;
        if (version > SCHEMA_VERSION) throw new Error(`the database has updraft schema ${version}, newer than this updraft (${SCHEMA_VERSION})`);
        await db.query(
          'INSERT INTO updraft_meta (schema_version) VALUES ($1) ON CONFLICT (one) DO UPDATE SET schema_version = excluded.schema_version',
          [SCHEMA_VERSION],
        );
      });
      await store.#listen();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /**
   * One connection outside the pool LISTENs for changes made anywhere: `changeCounter()` stays
   * synchronous. Lost (server restart, network), it is re-opened; meanwhile the counter moves on
   * every read, so a check-in cache reads the store each time instead of trusting stale answers.
   */
  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, types: TYPES, application_name: 'updraft-listen' });
    const lost = () => {
      if (this.#listener !== client) return;
      this.#listener = null;
      this.#listening = false;
      client.end().catch(() => {});
      this.#listenLater();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === CHANGES) this.#remote = Math.max(this.#remote, Number(n.payload));
    });
    this.#listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES}`);
      // Read after LISTEN: a change committed in between is then in the count or announced, never lost.
      const { rows } = await client.query<{ counter: number }>('SELECT counter FROM updraft_changes');
      this.#remote = Math.max(this.#remote, rows[0]?.counter ?? 0);
      if (this.#listener === client) this.#listening = true;
    } catch (err) {
      if (this.#listener === client) this.#listener = null;
      await client.end().catch(() => {});
      throw err;
    }
  }

  #listenLater(): void {
    if (this.#closed || this.#relisten) return;
    this.#relisten = setTimeout(() => {
      this.#relisten = null;
      this.#listen().catch(() => this.#listenLater());
    }, RELISTEN_MS);
    this.#relisten.unref();
  }

  changeCounter(): number {
    if (!this.#listening) return -++this.#blind;
    return this.#remote;
  }

  async #transaction<T>(body: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const db = await this.pool.connect();
    try {
      // READ COMMITTED whatever the server's default: each statement after the advisory lock must
      // see what the previous lock holder committed (a REPEATABLE READ snapshot would predate it).
      await db.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const result = await body(db);
      await db.query('COMMIT');
      return result;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      db.release();
    }
  }

  /**
   * Our own change's counter, read in its transaction: known at once, while its NOTIFY comes a
   * moment later and then changes nothing. Increments are serialised by the counter row's lock,
   * so every change up to this value is committed.
   */
  async #changing<T>(body: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const [result, counter] = await this.#transaction(async (db) => {
      const r = await body(db);
      const { rows } = await db.query<{ counter: number }>('SELECT counter FROM updraft_changes');
      return [r, rows[0]?.counter ?? 0] as const;
    });
    this.#remote = Math.max(this.#remote, counter);
    return result;
  }

  async insertRelease(m: ReleaseManifest, now: number): Promise<InsertReleaseResult> {
    const coversSw = (await releaseIdForm(m)) === 'sw';
    return this.#changing(async (db) => {
      // Serialises publishes of one app across every process: MAX(seq) + 1 is then safe.
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NS, m.app]);
      const existing = await db.query<{ seq: number }>('SELECT seq FROM releases WHERE id = $1', [m.id]);
      if (existing.rows[0]) return { seq: existing.rows[0].seq, created: false };
      // ON CONFLICT: the same id published at once under another app's lock; SQLite would answer
      // `created: false` there too, not an error.
      const { rows } = await db.query<{ seq: number }>(
        `INSERT INTO releases (id, app, seq, version, created_at, published_at, manifest, id_covers_sw)
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7 FROM releases WHERE app = $2
         ON CONFLICT (id) DO NOTHING
         RETURNING seq`,
        [m.id, m.app, text(m.version), text(m.createdAt), now, JSON.stringify(m), coversSw],
      );
      if (rows[0]) return { seq: rows[0].seq, created: true };
      const raced = await db.query<{ seq: number }>('SELECT seq FROM releases WHERE id = $1', [m.id]);
      return { seq: raced.rows[0]!.seq, created: false };
    });
  }

  async getRelease(id: string): Promise<StoredRelease | null> {
    const { rows } = await this.pool.query<ReleaseRow>(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE id = $1`, [id]);
    return rows[0] ? toRelease(rows[0]) : null;
  }

  async listReleases(app?: string): Promise<StoredRelease[]> {
    const { rows } = await this.pool.query<ReleaseRow>(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE ${APP} ORDER BY app, seq`, [app ?? null]);
    return rows.map(toRelease);
  }

  async latestRelease(app: string): Promise<StoredRelease | null> {
    const { rows } = await this.pool.query<ReleaseRow>(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = $1 ORDER BY seq DESC LIMIT 1`, [app]);
    return rows[0] ? toRelease(rows[0]) : null;
  }

  async listApps(): Promise<string[]> {
    const { rows } = await this.pool.query<{ app: string }>('SELECT DISTINCT app FROM releases ORDER BY app');
    return rows.map((r) => r.app);
  }

  async getChannel(app: string, name: string): Promise<ChannelState | null> {
    const { rows } = await this.pool.query<ChannelRow>('SELECT * FROM channels WHERE app = $1 AND name = $2', [app, name]);
    return rows[0] ? toChannel(rows[0]) : null;
  }

  async putChannel(app: string, name: string, u: ChannelChange, now: number): Promise<ChannelState> {
    // A lock per channel (the row may not exist yet, so SELECT ... FOR UPDATE alone would not do):
    // two servers moving the channel at once apply their changes one after the other, never a lost
    // update. FOR UPDATE as well: `pauseChannel` (another server's automatic pause) takes only the
    // row lock, and a pause committed between this read and the write below would be overwritten
    // by the state read before it (a percentage change silently resuming a paused rollout).
    return this.#changing(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CHANNEL_LOCK_NS, `${app}\n${name}`]);
      const { rows } = await db.query<ChannelRow>('SELECT * FROM channels WHERE app = $1 AND name = $2 FOR UPDATE', [app, name]);
      const old = rows[0] ? toChannel(rows[0]) : null;
      // Releases never change: their seqs need no lock, only the channel row does.
      const found = await db.query<{ id: string; seq: number }>('SELECT id, seq FROM releases WHERE id = ANY($1)', [channelSeqIds(old, u)]);
      const seqs = new Map(found.rows.map((r) => [r.id, Number(r.seq)]));
      const next = nextChannel(old, app, name, { ...u, ...(u.pausedReason !== undefined ? { pausedReason: text(u.pausedReason)! } : {}) }, now, seqs);
      if (!next) return old!;
      await db.query(
        `INSERT INTO channels (app, name, release, previous, percent, activation, updated_at, paused, paused_reason, minimum, sample_since)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (app, name) DO UPDATE SET release = excluded.release, previous = excluded.previous, percent = excluded.percent,
           activation = excluded.activation, updated_at = excluded.updated_at, paused = excluded.paused, paused_reason = excluded.paused_reason, minimum = excluded.minimum,
           sample_since = excluded.sample_since`,
        [app, name, next.release, next.previous, next.percent, next.activation, now, next.paused, next.pausedReason, next.minimum, next.sampleSince ?? 0],
      );
      return next;
    });
  }

  async pauseChannel(app: string, name: string, release: string, reason: string, now: number): Promise<ChannelState | null> {
    const { rows } = await this.#changing((db) => db.query<ChannelRow>(
      `UPDATE channels SET paused = TRUE, paused_reason = $1, updated_at = $2
       WHERE app = $3 AND name = $4 AND release = $5 AND NOT paused RETURNING *`,
      [text(reason), now, app, name, release],
    ));
    return rows[0] ? toChannel(rows[0]) : null;
  }

  async listChannels(app?: string): Promise<ChannelState[]> {
    const { rows } = await this.pool.query<ChannelRow>(`SELECT * FROM channels WHERE ${APP} ORDER BY app, name`, [app ?? null]);
    return rows.map(toChannel);
  }

  async upsertClient(c: ClientRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO clients (app, id, channel, release, staged, caps, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (app, id) DO UPDATE SET channel = excluded.channel, release = excluded.release, staged = excluded.staged, caps = excluded.caps, last_seen = excluded.last_seen`,
      [c.app, c.id, c.channel, c.release, c.staged, JSON.stringify(c.caps), c.lastSeen],
    );
  }

  async upsertClients(clients: readonly ClientRecord[]): Promise<void> {
    // One row per client, the last record winning: ON CONFLICT cannot update a row twice in one statement.
    const last = [...new Map(clients.map((c) => [`${c.app}\n${c.id}`, c])).values()];
    if (last.length === 0) return;
    const column = <T>(get: (c: ClientRecord) => T) => last.map(get);
    await this.pool.query(
      `INSERT INTO clients (app, id, channel, release, staged, caps, last_seen)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
       ON CONFLICT (app, id) DO UPDATE SET channel = excluded.channel, release = excluded.release, staged = excluded.staged, caps = excluded.caps, last_seen = excluded.last_seen`,
      [column((c) => c.app), column((c) => c.id), column((c) => c.channel), column((c) => c.release), column((c) => c.staged), column((c) => JSON.stringify(c.caps)), column((c) => c.lastSeen)],
    );
  }

  async countClients(app?: string): Promise<StatusResponse['clients']> {
    const { rows } = await this.pool.query<StatusResponse['clients'][number]>(
      `SELECT channel, release, COUNT(*) AS count FROM clients WHERE ${APP} GROUP BY channel, release ORDER BY channel, count DESC`,
      [app ?? null],
    );
    return rows;
  }

  async insertReports(reports: readonly Report[], now: number): Promise<void> {
    if (reports.length === 0) return;
    const column = <K extends keyof Report>(key: K) => reports.map((r) => r[key] ?? null);
    const free = (key: 'planId' | 'message') => reports.map((r) => text(r[key]));
    // One statement for the batch; ORDER BY the array position so `n` (recentReports' order) follows the batch.
    await this.pool.query(
      `INSERT INTO reports (client, app, plan_id, release, event, code, message, at, received_at)
       SELECT client, app, plan_id, release, event, code, message, at, $9
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[])
         WITH ORDINALITY AS r (client, app, plan_id, release, event, code, message, at, i)
       ORDER BY i`,
      [column('client'), column('app'), free('planId'), column('release'), column('event'), column('code'), free('message'), column('at'), now],
    );
  }

  async releaseHealth(app: string, release: string, since = 0): Promise<ReleaseHealth> {
    const { rows } = await this.pool.query<ReleaseHealth>(
      `SELECT COUNT(DISTINCT client) FILTER (WHERE event IN ('downloaded', 'activated') OR (event = 'failed' AND ${COUNTED_FAILURE_SQL}))::int AS clients,
         COUNT(DISTINCT client) FILTER (WHERE ${COUNTED_FAILURE_SQL})::int AS failed
       FROM reports WHERE app = $1 AND release = $2 AND received_at >= $3`,
      [app, release, since],
    );
    return rows[0]!;
  }

  async reportCounts(app?: string): Promise<StatusResponse['reportCounts']> {
    // NULLS FIRST: SQLite's order for a missing code.
    const { rows } = await this.pool.query<StatusResponse['reportCounts'][number]>(
      `SELECT release, event, code, COUNT(*) AS count FROM reports WHERE ${APP} GROUP BY release, event, code ORDER BY release, event, code NULLS FIRST`,
      [app ?? null],
    );
    return rows;
  }

  async recentReports(limit: number, app?: string): Promise<StatusResponse['recentReports']> {
    const { rows } = await this.pool.query<StatusResponse['recentReports'][number]>(
      `SELECT client, release, event, code, at FROM reports WHERE ${APP} ORDER BY n DESC LIMIT $2`,
      [app ?? null, limit],
    );
    return rows;
  }

  async channelActivations(app: string, limit: number): Promise<ChannelActivation[]> {
    const { rows } = await this.pool.query<ChannelActivation>(
      `SELECT r.client, r.release, r.event, r.code, r.at, c.channel FROM reports r JOIN clients c ON c.app = r.app AND c.id = r.client
        WHERE r.app = $1 AND r.event IN ('activated', 'boot-failed') ORDER BY r.n DESC LIMIT $2`,
      [app, limit],
    );
    return rows;
  }

  async putBlob(sha256: string, size: number): Promise<void> {
    await this.pool.query('INSERT INTO blobs (sha256, size, stored_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [sha256, size, Date.now()]);
  }

  async blobSizes(sha256s: readonly string[]): Promise<Map<string, number>> {
    // One round trip with an array parameter: no limit on the number of hashes.
    const { rows } = await this.pool.query<{ sha256: string; size: number }>('SELECT sha256, size FROM blobs WHERE sha256 = ANY($1::text[])', [[...new Set(sha256s)]]);
    return new Map(rows.map((r) => [r.sha256, r.size]));
  }

  async missingBlobs(sha256s: readonly string[]): Promise<string[]> {
    const known = await this.blobSizes(sha256s);
    return [...new Set(sha256s)].filter((sha) => !known.has(sha));
  }

  async hasBlobs(sha256s: readonly string[]): Promise<boolean> {
    return (await this.missingBlobs(sha256s)).length === 0;
  }

  async insertToken(t: StoredToken): Promise<void> {
    await this.pool.query('INSERT INTO updraft_tokens (id, sha256, scopes, name, created_at) VALUES ($1, $2, $3, $4, $5)', [t.id, t.sha256, t.scopes.join(','), t.name, t.createdAt]);
  }

  async getToken(id: string): Promise<StoredToken | null> {
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM updraft_tokens WHERE id = $1', [id]);
    return rows[0] ? toToken(rows[0]) : null;
  }

  async listTokens(): Promise<StoredToken[]> {
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM updraft_tokens ORDER BY created_at, id');
    return rows.map(toToken);
  }

  async deleteToken(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM updraft_tokens WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await (this.#closed ??= (async () => {
      if (this.#relisten) clearTimeout(this.#relisten);
      const listener = this.#listener;
      this.#listener = null;
      this.#listening = false;
      await listener?.end().catch(() => {});
      await this.pool.end();
    })());
  }
}

/** Connects to `url` (`postgres://user:pass@host:5432/db`) and creates the schema if needed. */
export function openPostgresStore(url: string, options?: PostgresStoreOptions): Promise<PostgresStore> {
  return PostgresStore.open(url, options);
}
