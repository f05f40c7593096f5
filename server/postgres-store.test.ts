import { basename } from 'node:path';
import Pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeDist } from './fake-dist.js';
import { openPostgresStore } from './postgres-store.js';
import { createTestDatabase, dropTestDatabase, findTestPostgres } from './postgres-test-db.js';
import { storeContract } from './store-contract.js';

const pg = await findTestPostgres();

if (!pg.url) {
  if (pg.required) it('PostgreSQL is available', () => expect.fail(pg.why));
  else {
    console.warn(`postgres-store.test.ts: skipped: ${pg.why}`);
    describe.skip(`PostgresStore (skipped: ${pg.why})`, () => it('runs the store contract', () => {}));
  }
} else {
  const server = pg.url;
  // One database per contract test: `open(dir)` again (a restart, a second handle) reaches the same one.
  const databases = new Map<string, Promise<string>>();
  const databaseFor = (dir: string) => {
    if (!databases.has(dir)) databases.set(dir, createTestDatabase(server, `updraft_t_${basename(dir).replace(/\W/g, '_').toLowerCase()}`));
    return databases.get(dir)!;
  };
  storeContract('PostgresStore', {
    open: async (dir) => openPostgresStore(await databaseFor(dir)),
    remove: async (dir) => {
      const db = databases.get(dir);
      databases.delete(dir);
      if (db) await dropTestDatabase(server, await db);
    },
  });

  describe('PostgresStore on its own', () => {
    const made: string[] = [];
    const fresh = async () => {
      const url = await createTestDatabase(server);
      made.push(url);
      return url;
    };
    afterAll(async () => {
      for (const url of made) await dropTestDatabase(server, url);
    });

    it('servers starting together on an empty database create the schema once, without errors', async () => {
      const url = await fresh();
      // Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS fails on pg_type's unique index.
      const stores = await Promise.all(Array.from({ length: 6 }, () => openPostgresStore(url, { max: 2 })));
      const { rows } = await stores[0]!.pool.query<{ schema_version: number }>('SELECT schema_version FROM updraft_meta');
      expect(rows).toEqual([{ schema_version: 2 }]);
      await Promise.all(stores.map((s) => s.close()));
    });

    it('upgrades a schema 1 database: channels gain paused, paused_reason and minimum, releases the form of their id', async () => {
      const url = await fresh();
      const r = (await fakeDist({ 'index.html': 'old' }, { sw: 'self.x=1', legacyId: true })).manifest;
      const old = new Pg.Client({ connectionString: url });
      await old.connect();
      try {
        // The schema 1 tables a channel row needs, as updraft 1 created them.
        await old.query(`
          CREATE TABLE updraft_meta (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), schema_version INTEGER NOT NULL);
          INSERT INTO updraft_meta (schema_version) VALUES (1);
          CREATE TABLE releases (id TEXT COLLATE "C" PRIMARY KEY, app TEXT COLLATE "C" NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL,
            created_at TEXT NOT NULL, published_at BIGINT NOT NULL, manifest TEXT NOT NULL, UNIQUE (app, seq));
          CREATE TABLE channels (app TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, release TEXT COLLATE "C" NOT NULL REFERENCES releases(id),
            previous TEXT COLLATE "C" REFERENCES releases(id), percent DOUBLE PRECISION NOT NULL, activation TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (app, name));`);
        await old.query(`INSERT INTO releases VALUES ($1, 'demo', 1, '1', '2024-01-01', 1, $2)`, [r.id, JSON.stringify(r)]);
        await old.query(`INSERT INTO channels VALUES ('demo', 'stable', $1, NULL, 40, 'prompt', 5)`, [r.id]);
      } finally {
        await old.end();
      }
      const store = await openPostgresStore(url);
      try {
        expect(await store.getChannel('demo', 'stable')).toEqual({
          name: 'stable', app: 'demo', release: r.id, previous: null, percent: 40, activation: 'prompt', paused: false, pausedReason: null, minimum: null, sampleSince: 0, updatedAt: 5,
        });
        expect(await store.putChannel('demo', 'stable', { release: r.id, paused: true, minimum: r.id }, 6)).toMatchObject({ paused: true, minimum: r.id });
        // Every release an older server stored has an id of the app's files only.
        expect((await store.getRelease(r.id))?.idCoversSw).toBe(false);
        const { rows } = await store.pool.query<{ schema_version: number }>('SELECT schema_version FROM updraft_meta');
        expect(rows).toEqual([{ schema_version: 2 }]);
      } finally {
        await store.close();
      }
    });

    it('refuses a database whose schema is newer than this updraft', async () => {
      const url = await fresh();
      const store = await openPostgresStore(url);
      await store.pool.query('UPDATE updraft_meta SET schema_version = 99');
      await store.close();
      await store.close(); // closing twice is fine
      await expect(openPostgresStore(url)).rejects.toThrow(/schema 99, newer than this updraft/);
    });

    it('changeCounter sees changes made by another server, and stays safe while its LISTEN connection is down', async () => {
      const url = await fresh();
      const [a, b] = [await openPostgresStore(url), await openPostgresStore(url)];
      try {
        const r = (await fakeDist({ 'index.html': 'notify' })).manifest;
        const before = a.changeCounter();
        await b.insertRelease(r, 1);
        // Announced on commit through NOTIFY: a moment later, not at once.
        await expect.poll(() => a.changeCounter(), { timeout: 5000 }).toBeGreaterThan(before);
        const seen = a.changeCounter();
        await b.putChannel('demo', 'stable', { release: r.id }, 2);
        await expect.poll(() => a.changeCounter(), { timeout: 5000 }).toBeGreaterThan(seen);

        // The listener's connection dies (server restart, failover): every read differs until it is back.
        await b.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'updraft-listen' AND datname = current_database()");
        await expect.poll(() => a.changeCounter() !== a.changeCounter(), { timeout: 5000 }).toBe(true);
        await b.putChannel('demo', 'stable', { release: r.id, percent: 50 }, 3); // missed while down, caught up on reconnect
        await expect.poll(() => a.changeCounter() === a.changeCounter(), { timeout: 10_000 }).toBe(true);
        const back = a.changeCounter();
        expect(back).toBeGreaterThan(seen);
        await b.putChannel('demo', 'stable', { release: r.id, percent: 60 }, 4);
        await expect.poll(() => a.changeCounter(), { timeout: 5000 }).toBeGreaterThan(back);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a pause committed by another server while putChannel waits is kept: a percentage change does not undo it', async () => {
      const url = await fresh();
      const store = await openPostgresStore(url);
      const other = new Pg.Client({ connectionString: url });
      await other.connect();
      try {
        const [r1, r2] = [(await fakeDist({ 'index.html': 'race 1' })).manifest, (await fakeDist({ 'index.html': 'race 2' })).manifest];
        await store.insertRelease(r1, 1);
        await store.insertRelease(r2, 2);
        await store.putChannel('demo', 'stable', { release: r1.id }, 3);
        await store.putChannel('demo', 'stable', { release: r2.id, percent: 10 }, 4);
        // Another server's automatic pause, held open: pauseChannel's own statement, not yet committed.
        await other.query('BEGIN');
        await other.query(
          `UPDATE channels SET paused = TRUE, paused_reason = 'auto: failure rate', updated_at = 5
           WHERE app = 'demo' AND name = 'stable' AND release = $1 AND NOT paused`, [r2.id]);
        const change = store.putChannel('demo', 'stable', { release: r2.id, percent: 20 }, 6);
        // The admin's change has reached the channel row and waits for the pause's lock.
        await expect.poll(async () => (await other.query<{ n: number }>(
          `SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'updraft' AND wait_event_type = 'Lock'`,
        )).rows[0]!.n, { timeout: 5000 }).toBe(1);
        await other.query('COMMIT');
        expect(await change).toMatchObject({ percent: 20, paused: true, pausedReason: 'auto: failure rate' });
        expect(await store.getChannel('demo', 'stable')).toMatchObject({ percent: 20, paused: true, pausedReason: 'auto: failure rate' });
      } finally {
        await other.end();
        await store.close();
      }
    });

    it('an unreachable server fails the open', async () => {
      const u = new URL(server);
      u.port = '1'; // nothing listens on port 1
      await expect(openPostgresStore(u.href)).rejects.toThrow();
    });
  });
}
