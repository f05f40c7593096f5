import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Which PostgreSQL the tests use. `npm test` (scripts/test.mjs) starts a throwaway one and sets
 * `UPDRAFT_PG_URL`; without it, a server on the libpq defaults (PGHOST, PGPORT, PGUSER or
 * 127.0.0.1:5432) is used when one answers. `url: null` means skip, with `why` saying so; when
 * `UPDRAFT_PG_REQUIRED=1` (CI, or npm test tried to start one) there is no skipping: `why` then
 * explains the failure and the test files turn it into a failing test.
 */
export interface TestPostgres { url: string | null; required: boolean; why: string }

async function reachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

let found: Promise<TestPostgres> | null = null;

export function findTestPostgres(): Promise<TestPostgres> {
  return (found ??= (async () => {
    const env = process.env;
    const required = env.UPDRAFT_PG_REQUIRED === '1';
    if (env.UPDRAFT_PG_URL) {
      const error = await reachable(env.UPDRAFT_PG_URL);
      // Set but down is always a failure: someone meant these tests to run.
      return error ? { url: null, required: true, why: `UPDRAFT_PG_URL=${env.UPDRAFT_PG_URL} is not reachable: ${error}` } : { url: env.UPDRAFT_PG_URL, required, why: '' };
    }
    const guess = `postgres://${env.PGUSER ?? env.USER ?? 'postgres'}@${env.PGHOST ?? '127.0.0.1'}:${env.PGPORT ?? 5432}/${env.PGDATABASE ?? 'postgres'}`;
    const error = await reachable(guess);
    if (!error) return { url: guess, required, why: '' };
    const why = required
      ? `PostgreSQL is required (UPDRAFT_PG_REQUIRED=1) but none is available: ${env.UPDRAFT_PG_ERROR ?? `UPDRAFT_PG_URL is unset and ${guess} answers: ${error}`}`
      : `no PostgreSQL: UPDRAFT_PG_URL is unset and ${guess} answers: ${error} (npm test starts one; or node scripts/postgres.mjs)`;
    return { url: null, required, why };
  })());
}

/** `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.href;
}

async function admin<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the server at `url`; returns its URL. */
export async function createTestDatabase(url: string, name = `updraft_t_${randomBytes(6).toString('hex')}`): Promise<string> {
  await admin(url, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  return withDatabase(url, name);
}

/** Drops the database of `databaseUrl`, disconnecting whoever is still on it. */
export async function dropTestDatabase(url: string, databaseUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  await admin(url, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}
