import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fakeDist } from './fake-dist.js';
import { openSqliteStore } from './sqlite-store.js';
import { storeContract } from './store-contract.js';

storeContract('SqliteStore', { open: openSqliteStore });

it('SqliteStore runs in WAL mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-store-'));
  const store = openSqliteStore(dir);
  expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  store.db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('SqliteStore upgrades a schema 1 database: channels gain paused, paused_reason and minimum, releases the form of their id', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-store-'));
  const r = (await fakeDist({ 'index.html': 'old' }, { sw: 'self.x=1', legacyId: true })).manifest;
  const old = new Database(join(dir, 'updraft.db'));
  old.exec(`
    CREATE TABLE releases (id TEXT PRIMARY KEY, app TEXT NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL, created_at TEXT NOT NULL,
      published_at INTEGER NOT NULL, manifest TEXT NOT NULL, UNIQUE (app, seq));
    CREATE TABLE channels (app TEXT NOT NULL, name TEXT NOT NULL, release TEXT NOT NULL REFERENCES releases(id), previous TEXT REFERENCES releases(id),
      percent REAL NOT NULL, activation TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (app, name));
    PRAGMA user_version = 1;`);
  old.prepare(`INSERT INTO releases VALUES (?, 'demo', 1, '1', '2024-01-01', 1, ?)`).run(r.id, JSON.stringify(r));
  old.prepare(`INSERT INTO channels VALUES ('demo', 'stable', ?, NULL, 40, 'prompt', 5)`).run(r.id);
  old.close();

  const store = openSqliteStore(dir);
  expect(store.db.pragma('user_version', { simple: true })).toBe(2);
  // Every release an older server stored has an id of the app's files only.
  expect((await store.getRelease(r.id))?.idCoversSw).toBe(false);
  expect(await store.getChannel('demo', 'stable')).toEqual({
    name: 'stable', app: 'demo', release: r.id, previous: null, percent: 40, activation: 'prompt', paused: false, pausedReason: null, minimum: null, sampleSince: 0, updatedAt: 5,
  });
  expect(await store.putChannel('demo', 'stable', { release: r.id, paused: true, pausedReason: 'why', minimum: r.id }, 6)).toMatchObject({ paused: true, pausedReason: 'why', minimum: r.id });
  await store.close();
  // Opening again is a no-op.
  const again = openSqliteStore(dir);
  expect(await again.getChannel('demo', 'stable')).toMatchObject({ paused: true, minimum: r.id });
  await again.close();
  rmSync(dir, { recursive: true, force: true });
});
