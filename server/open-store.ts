import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

const POSTGRES = /^postgres(?:ql)?:\/\//i;

/** Whether `location` names PostgreSQL rather than a SQLite directory. */
export const isPostgresLocation = (location: string): boolean => POSTGRES.test(location);

/**
 * The store at `location`: a `postgres://` (or `postgresql://`) URL opens PostgreSQL, creating
 * the schema if needed; anything else is a directory holding SQLite's `updraft.db`.
 */
export async function openStore(location: string): Promise<Store> {
  return isPostgresLocation(location) ? openPostgresStore(location) : openSqliteStore(location);
}

/**
 * `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for logs and errors; also any
 * other URL with a password (a `--db` of the wrong kind is named in its error).
 */
export function redactStoreLocation(location: string): string {
  try {
    const u = new URL(location);
    if (u.password) u.password = '***';
    return u.password || isPostgresLocation(location) ? u.href : location;
  } catch {
    return isPostgresLocation(location) ? 'postgres://…' : location;
  }
}
