/**
 * Many check-ins and reports at once over real HTTP against one SQLite database: every one is
 * answered 200/202 (no SQLITE_BUSY reaches a client) and every one is counted. The second case
 * adds a second server process on the same data dir, so the two contend for SQLite's write lock.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS, type CheckInResponse, type StatusResponse } from '../protocol/index.js';
import { fakeDist, writeDist } from './fake-dist.js';
import { startServer, type RunningServer } from './node.js';
import { publishDirectory } from './publish.js';
import type { SqliteStore } from './sqlite-store.js';
import type { WriteBehindStore } from './write-behind-store.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'concurrency-token';
const CONCURRENT = Number(process.env.CONCURRENT ?? 500);
const REPORTS_PER_BATCH = 4;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-concurrency-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer({ dataDir: join(dir, 'data'), token: TOKEN });
  cleanups.push(() => server.close());
  const d = await fakeDist({ 'index.html': '<h1>busy</h1>', 'assets/a.js': 'a()', 'assets/b.js': 'b()' }, { sw: 'sw()' });
  await writeDist(join(dir, 'dist'), d);
  await publishDirectory(join(dir, 'dist'), { server: server.url, token: TOKEN, channel: 'stable' });
  return { dir, server, release: d.manifest.id };
}

/** `n` requests fired together, alternating check-ins (distinct clients) and report batches, spread over `urls`. */
async function storm(urls: string[], n: number, release: string, tag: string): Promise<Response[]> {
  const requests = Array.from({ length: n }, (_, i) => {
    const base = urls[i % urls.length]!;
    const client = `${tag}-client-${String(i).padStart(5, '0')}`;
    if (i % 2 === 0) {
      return fetch(new URL(PATHS.checkIn, base), {
        method: 'POST',
        body: JSON.stringify({ client, app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, swIds: true } }),
      });
    }
    const reports = Array.from({ length: REPORTS_PER_BATCH }, (_, k) => ({ client, app: 'demo', release, event: 'downloaded', at: i * 10 + k }));
    return fetch(new URL(PATHS.reports, base), { method: 'POST', body: JSON.stringify({ reports }) });
  });
  return Promise.all(requests);
}

async function expectAllAnswered(responses: Response[], release: string): Promise<void> {
  const failures: string[] = [];
  for (const [i, res] of responses.entries()) {
    const text = await res.text();
    const expected = i % 2 === 0 ? 200 : 202;
    if (res.status !== expected) failures.push(`${i}: ${res.status} ${text.slice(0, 200)}`);
    else if (i % 2 === 0) expect((JSON.parse(text) as CheckInResponse & { plan?: { to: string } }).plan?.to).toBe(release);
  }
  expect(failures).toEqual([]);
}

async function status(server: RunningServer): Promise<StatusResponse> {
  const res = await fetch(new URL(PATHS.adminStatus, server.url), { headers: { Authorization: `Bearer ${TOKEN}` } });
  return (await res.json()) as StatusResponse;
}

const total = (rows: { count: number }[]) => rows.reduce((n, r) => n + r.count, 0);

describe(`${CONCURRENT} concurrent check-ins and reports`, () => {
  it('one server: all 200/202, every client and report counted', async () => {
    const { server, release } = await setup();
    // What keeps writers from failing on a busy database: WAL (readers never block the writer) and a busy timeout.
    // startServer batches client writes in front of the SQLite store it opens.
    const db = ((server.store as WriteBehindStore).inner as SqliteStore).db;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
    await expectAllAnswered(await storm([server.url], CONCURRENT, release, 'one'), release);
    const s = await status(server);
    expect(total(s.clients)).toBe(Math.ceil(CONCURRENT / 2));
    expect(total(s.reportCounts)).toBe(Math.floor(CONCURRENT / 2) * REPORTS_PER_BATCH);
  });

  it('two server processes on one data dir: SQLite lock contention never reaches a client', async () => {
    const { dir, server, release } = await setup();
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', join(dir, 'data'), '--token', TOKEN], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    });
    const other = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /http:\/\/\S+\//.exec(out);
        if (m) resolve(m[0]);
      });
      child.once('exit', (code) => reject(new Error(`second server exited (${code})`)));
    });
    await expectAllAnswered(await storm([server.url, other], CONCURRENT, release, 'two'), release);
    const s = await status(server);
    expect(total(s.clients)).toBe(Math.ceil(CONCURRENT / 2));
    expect(total(s.reportCounts)).toBe(Math.floor(CONCURRENT / 2) * REPORTS_PER_BATCH);
  });
});
