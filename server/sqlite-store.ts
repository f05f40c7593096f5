import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { releaseIdForm, type ChannelState, type ReleaseManifest, type Report, type StatusResponse } from '../protocol/index.js';
import { channelSeqIds, nextChannel } from './channel-change.js';
import type { StoredToken } from './admin-token.js';
import { RELEASE_COLUMNS, toChannel, toRelease, toToken, type ChannelRow, type ReleaseRow, type TokenRow } from './store-rows.js';
import { COUNTED_FAILURE_SQL, type ChannelActivation, type ChannelChange, type ClientRecord, type InsertReleaseResult, type ReleaseHealth, type Store, type StoredRelease } from './store.js';

/** Bumped with each schema change; `open` migrates from `PRAGMA user_version`. */
const SCHEMA_VERSION = 2;

/** Columns added after schema 1, as `ALTER TABLE` clauses: added to an older database on open. */
const ADDED_COLUMNS: readonly [table: string, column: string, definition: string][] = [
  ['channels', 'paused', 'INTEGER NOT NULL DEFAULT 0'],
  ['channels', 'paused_reason', 'TEXT'],
  ['channels', 'minimum', 'TEXT REFERENCES releases(id)'],
  // Added within schema 2: an older server ignores it (its automatic pause counts every report).
  ['channels', 'sample_since', 'INTEGER NOT NULL DEFAULT 0'],
  // Added within schema 2: 0 is right for every release an older server stored (it accepted only
  // ids of the app's files), and one cannot store another form.
  ['releases', 'id_covers_sw', 'INTEGER NOT NULL DEFAULT 0'],
];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS releases (
  id TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  seq INTEGER NOT NULL,
  version TEXT NOT NULL,
  created_at TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  id_covers_sw INTEGER NOT NULL DEFAULT 0,
  UNIQUE (app, seq)
);
CREATE TABLE IF NOT EXISTS channels (
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  release TEXT NOT NULL REFERENCES releases(id),
  previous TEXT REFERENCES releases(id),
  percent REAL NOT NULL,
  activation TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  paused_reason TEXT,
  minimum TEXT REFERENCES releases(id),
  sample_since INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app, name)
);
CREATE TABLE IF NOT EXISTS clients (
  app TEXT NOT NULL,
  id TEXT NOT NULL,
  channel TEXT NOT NULL,
  release TEXT,
  staged TEXT,
  caps TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (app, id)
);
CREATE TABLE IF NOT EXISTS reports (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  client TEXT NOT NULL,
  app TEXT NOT NULL,
  plan_id TEXT,
  release TEXT NOT NULL,
  event TEXT NOT NULL,
  code TEXT,
  message TEXT,
  at INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_release ON reports (app, release, event, code);
CREATE INDEX IF NOT EXISTS reports_by_client ON reports (app, release, client);
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  stored_at INTEGER NOT NULL
);
-- Admin tokens: the SHA-256 of each, never the token. A new table only (older servers ignore it).
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  scopes TEXT NOT NULL,
  name TEXT,
  created_at INTEGER NOT NULL
);
`;

/** Client rows per statement in `upsertClients` (7 parameters each, far below SQLite's limit). */
const UPSERT_ROWS = 100;

/** `?app` filters are optional; NULL matches everything. */
const APP = '(@app IS NULL OR app = @app)';

export class SqliteStore implements Store {
  readonly db: Database.Database;
  /** Bumped by every release insert and channel change made through this object (see `changeCounter`). */
  #changes = 0;
  #upsert: Database.Statement | null = null;
  #upsertMany: Database.Statement | null = null;

  constructor(file: string) {
    this.db = new Database(file);
    // WAL: check-ins (writes) do not block blob and status reads; NORMAL sync is durable in WAL mode except for the last commits on power loss.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`${file} has schema ${version}, newer than this updraft (${SCHEMA_VERSION})`);
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      // CREATE TABLE IF NOT EXISTS leaves an older table as it was: add what it lacks.
      for (const [table, column, definition] of ADDED_COLUMNS) {
        const has = (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
        if (!has) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      }
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }

  async insertRelease(m: ReleaseManifest, now: number): Promise<InsertReleaseResult> {
    const coversSw = (await releaseIdForm(m)) === 'sw' ? 1 : 0;
    // One immediate transaction: two publishes for the same app never get the same seq.
    const insert = this.db.transaction((): InsertReleaseResult => {
      const existing = this.db.prepare('SELECT seq FROM releases WHERE id = ?').get(m.id) as { seq: number } | undefined;
      if (existing) return { seq: existing.seq, created: false };
      const { next } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM releases WHERE app = ?').get(m.app) as { next: number };
      this.db
        .prepare('INSERT INTO releases (id, app, seq, version, created_at, published_at, manifest, id_covers_sw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(m.id, m.app, next, m.version, m.createdAt, now, JSON.stringify(m), coversSw);
      return { seq: next, created: true };
    });
    const result = insert.immediate();
    if (result.created) this.#changes++;
    return result;
  }

  async getRelease(id: string): Promise<StoredRelease | null> {
    const row = this.db.prepare(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE id = ?`).get(id) as ReleaseRow | undefined;
    return row ? toRelease(row) : null;
  }

  async listReleases(app?: string): Promise<StoredRelease[]> {
    const rows = this.db.prepare(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE ${APP} ORDER BY app, seq`).all({ app: app ?? null }) as ReleaseRow[];
    return rows.map(toRelease);
  }

  async latestRelease(app: string): Promise<StoredRelease | null> {
    const row = this.db.prepare(`SELECT ${RELEASE_COLUMNS} FROM releases WHERE app = ? ORDER BY seq DESC LIMIT 1`).get(app) as ReleaseRow | undefined;
    return row ? toRelease(row) : null;
  }

  async listApps(): Promise<string[]> {
    return (this.db.prepare('SELECT DISTINCT app FROM releases ORDER BY app').all() as { app: string }[]).map((r) => r.app);
  }

  async getChannel(app: string, name: string): Promise<ChannelState | null> {
    const row = this.db.prepare('SELECT * FROM channels WHERE app = ? AND name = ?').get(app, name) as ChannelRow | undefined;
    return row ? toChannel(row) : null;
  }

  async putChannel(app: string, name: string, u: ChannelChange, now: number): Promise<ChannelState> {
    const put = this.db.transaction((): ChannelState | { kept: ChannelState } => {
      const row = this.db.prepare('SELECT * FROM channels WHERE app = ? AND name = ?').get(app, name) as ChannelRow | undefined;
      const old = row ? toChannel(row) : null;
      const ids = channelSeqIds(old, u);
      const seqs = new Map((this.db.prepare(`SELECT id, seq FROM releases WHERE id IN (${ids.map(() => '?').join(', ')})`).all(...ids) as { id: string; seq: number }[]).map((r) => [r.id, r.seq]));
      const next = nextChannel(old, app, name, u, now, seqs);
      if (!next) return { kept: old! };
      this.db
        .prepare(`INSERT INTO channels (app, name, release, previous, percent, activation, updated_at, paused, paused_reason, minimum, sample_since)
          VALUES (@app, @name, @release, @previous, @percent, @activation, @updatedAt, @paused, @pausedReason, @minimum, @sampleSince)
          ON CONFLICT (app, name) DO UPDATE SET release = excluded.release, previous = excluded.previous, percent = excluded.percent, activation = excluded.activation,
            updated_at = excluded.updated_at, paused = excluded.paused, paused_reason = excluded.paused_reason, minimum = excluded.minimum, sample_since = excluded.sample_since`)
        .run({ ...next, paused: next.paused ? 1 : 0 });
      return next;
    });
    const state = put.immediate();
    if ('kept' in state) return state.kept;
    this.#changes++;
    return state;
  }

  async pauseChannel(app: string, name: string, release: string, reason: string, now: number): Promise<ChannelState | null> {
    const row = this.db
      .prepare('UPDATE channels SET paused = 1, paused_reason = ?, updated_at = ? WHERE app = ? AND name = ? AND release = ? AND paused = 0 RETURNING *')
      .get(reason, now, app, name, release) as ChannelRow | undefined;
    if (!row) return null;
    this.#changes++;
    return toChannel(row);
  }

  async listChannels(app?: string): Promise<ChannelState[]> {
    return (this.db.prepare(`SELECT * FROM channels WHERE ${APP} ORDER BY app, name`).all({ app: app ?? null }) as ChannelRow[]).map(toChannel);
  }

  #upsertStatement(rows = 1): Database.Statement {
    const sql = () => `INSERT INTO clients (app, id, channel, release, staged, caps, last_seen) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}
        ON CONFLICT (app, id) DO UPDATE SET channel = excluded.channel, release = excluded.release, staged = excluded.staged, caps = excluded.caps, last_seen = excluded.last_seen`;
    return rows === 1 ? (this.#upsert ??= this.db.prepare(sql())) : (this.#upsertMany ??= this.db.prepare(sql()));
  }

  async upsertClient(c: ClientRecord): Promise<void> {
    this.#upsertStatement().run(c.app, c.id, c.channel, c.release, c.staged, JSON.stringify(c.caps), c.lastSeen);
  }

  /**
   * One transaction, written UPSERT_ROWS rows per statement: a write-behind flush of check-ins is
   * the store's hottest path, and one call per row cost ~40 % more (2.2 against 1.6 µs a row).
   * The same client twice in one statement is fine: the later row updates the earlier.
   */
  async upsertClients(clients: readonly ClientRecord[]): Promise<void> {
    const args = (c: ClientRecord) => [c.app, c.id, c.channel, c.release, c.staged, JSON.stringify(c.caps), c.lastSeen];
    this.db.transaction(() => {
      let i = 0;
      if (clients.length >= UPSERT_ROWS) {
        const many = this.#upsertStatement(UPSERT_ROWS);
        for (; i + UPSERT_ROWS <= clients.length; i += UPSERT_ROWS) many.run(clients.slice(i, i + UPSERT_ROWS).flatMap(args));
      }
      const one = this.#upsertStatement();
      for (; i < clients.length; i++) one.run(args(clients[i]!));
    })();
  }

  /**
   * Counts changes made through this object only: enough for one server process (the only way
   * SQLite is served). Several processes would need a counter row bumped in the same
   * transactions, read here; a shared PostgreSQL store should do exactly that.
   */
  changeCounter(): number {
    return this.#changes;
  }

  async countClients(app?: string): Promise<StatusResponse['clients']> {
    return this.db
      .prepare(`SELECT channel, release, COUNT(*) AS count FROM clients WHERE ${APP} GROUP BY channel, release ORDER BY channel, count DESC`)
      .all({ app: app ?? null }) as StatusResponse['clients'];
  }

  async insertReports(reports: readonly Report[], now: number): Promise<void> {
    const stmt = this.db.prepare(
      'INSERT INTO reports (client, app, plan_id, release, event, code, message, at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const r of reports) stmt.run(r.client, r.app, r.planId ?? null, r.release, r.event, r.code ?? null, r.message ?? null, r.at, now);
    })();
  }

  async reportCounts(app?: string): Promise<StatusResponse['reportCounts']> {
    return this.db
      .prepare(`SELECT release, event, code, COUNT(*) AS count FROM reports WHERE ${APP} GROUP BY release, event, code ORDER BY release, event, code`)
      .all({ app: app ?? null }) as StatusResponse['reportCounts'];
  }

  async recentReports(limit: number, app?: string): Promise<StatusResponse['recentReports']> {
    return this.db
      .prepare(`SELECT client, release, event, code, at FROM reports WHERE ${APP} ORDER BY n DESC LIMIT @limit`)
      .all({ app: app ?? null, limit }) as StatusResponse['recentReports'];
  }

  async channelActivations(app: string, limit: number): Promise<ChannelActivation[]> {
    return this.db
      .prepare(`SELECT r.client, r.release, r.event, r.code, r.at, c.channel FROM reports r JOIN clients c ON c.app = r.app AND c.id = r.client
        WHERE r.app = ? AND r.event IN ('activated', 'boot-failed') ORDER BY r.n DESC LIMIT ?`)
      .all(app, limit) as ChannelActivation[];
  }

  async releaseHealth(app: string, release: string, since = 0): Promise<ReleaseHealth> {
    return this.db
      .prepare(`SELECT COUNT(DISTINCT CASE WHEN event IN ('downloaded', 'activated') OR (event = 'failed' AND ${COUNTED_FAILURE_SQL}) THEN client END) AS clients,
          COUNT(DISTINCT CASE WHEN ${COUNTED_FAILURE_SQL} THEN client END) AS failed
        FROM reports WHERE app = ? AND release = ? AND received_at >= ?`)
      .get(app, release, since) as ReleaseHealth;
  }

  async putBlob(sha256: string, size: number): Promise<void> {
    this.db.prepare('INSERT OR IGNORE INTO blobs (sha256, size, stored_at) VALUES (?, ?, ?)').run(sha256, size, Date.now());
  }

  async blobSizes(sha256s: readonly string[]): Promise<Map<string, number>> {
    const stmt = this.db.prepare('SELECT size FROM blobs WHERE sha256 = ?').pluck();
    const sizes = new Map<string, number>();
    // One prepared lookup per hash in a single read transaction: fast, and no SQLite variable limit.
    this.db.transaction(() => {
      for (const sha of sha256s) {
        const size = stmt.get(sha) as number | undefined;
        if (size !== undefined) sizes.set(sha, size);
      }
    })();
    return sizes;
  }

  async missingBlobs(sha256s: readonly string[]): Promise<string[]> {
    const known = await this.blobSizes(sha256s);
    return [...new Set(sha256s)].filter((sha) => !known.has(sha));
  }

  async hasBlobs(sha256s: readonly string[]): Promise<boolean> {
    return (await this.missingBlobs(sha256s)).length === 0;
  }

  async insertToken(t: StoredToken): Promise<void> {
    this.db.prepare('INSERT INTO tokens (id, sha256, scopes, name, created_at) VALUES (?, ?, ?, ?, ?)').run(t.id, t.sha256, t.scopes.join(','), t.name, t.createdAt);
  }

  async getToken(id: string): Promise<StoredToken | null> {
    const row = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return row ? toToken(row) : null;
  }

  async listTokens(): Promise<StoredToken[]> {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(toToken);
  }

  async deleteToken(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM tokens WHERE id = ?').run(id).changes > 0;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Opens (creating if needed) `<dataDir>/updraft.db`. */
export function openSqliteStore(dataDir: string): SqliteStore {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteStore(join(dataDir, 'updraft.db'));
}
