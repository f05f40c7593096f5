/**
 * Test support: a fresh SQLite store in a temp directory, closed and removed when the test that
 * made it ends (so each test file needs no cleanup list of its own).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

/** Call inside a test. `dir` reopens an existing directory (a restart); else a new one named `prefix…`. */
export function tempStore(o: { prefix?: string; dir?: string } = {}): { dir: string; store: SqliteStore } {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), o.prefix ?? 'updraft-test-'));
  const store = openSqliteStore(dir);
  onTestFinished(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store };
}
