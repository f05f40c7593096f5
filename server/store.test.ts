import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
