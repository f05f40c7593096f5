/**
 * Several `updraft serve` processes sharing one PostgreSQL (and one blob directory) act as one
 * server: what is published or changed through one is what every other one serves and plans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, joinUrl, type ChannelState, type CheckInResponse, type FetchTask, type StatusResponse } from '../protocol/index.js';
import { AdminClient } from './admin-client.js';
import { fakeDist, writeDist } from './fake-dist.js';
import { createTestDatabase, dropTestDatabase, findTestPostgres } from './postgres-test-db.js';
import { publishDirectory } from './publish.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'fleet-token';

/** `updraft serve` in a child process; resolves with its URL once it listens. */
function serve(args: string[]): { child: ChildProcess; url: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--token', TOKEN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /http:\/\/\S+\//.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`updraft serve exited (${code}): ${err}`)));
  });
  return { child, url, stderr: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const checkIn = async (server: string, client: string, release: string | null, app = 'fleet') => {
  const res = await fetch(joinUrl(server, PATHS.checkIn), {
    method: 'POST',
    body: JSON.stringify({ client, app, channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as CheckInResponse;
};

it('serve --db with an unreachable PostgreSQL fails with one `db` line, password redacted', async () => {
  const s = serve(['--db', 'postgres://someone:s3cret@127.0.0.1:1/updraft']);
  const [code] = (await once(s.child, 'exit')) as [number];
  expect(code).toBe(1);
  expect(s.stderr()).toMatch(/^updraft: db: cannot open postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/updraft: .+\n$/);
  await s.url.catch(() => {});
});

const pg = await findTestPostgres();

if (!pg.url) {
  if (pg.required) it('PostgreSQL is available', () => expect.fail(pg.why));
  else {
    console.warn(`postgres-fleet.test.ts: skipped: ${pg.why}`);
    describe.skip(`two server processes on one PostgreSQL (skipped: ${pg.why})`, () => it('share rollout state', () => {}));
  }
} else {
  const server = pg.url;
  /**
   * Two `serve --db` processes on a fresh database and one shared blob directory (blob bytes are
   * not in the database), started before and stopped after the enclosing describe's tests.
   */
  const twoServers = (prefix: string, extra: string[] = []) => {
    const fleet = { dir: '', db: '', a: '', b: '' };
    const children: ChildProcess[] = [];
    beforeAll(async () => {
      fleet.dir = mkdtempSync(join(tmpdir(), prefix));
      fleet.db = await createTestDatabase(server);
      const args = ['--db', fleet.db, '--data', join(fleet.dir, 'data'), ...extra];
      const [sa, sb] = [serve(args), serve(args)];
      children.push(sa.child, sb.child);
      [fleet.a, fleet.b] = await Promise.all([sa.url, sb.url]);
    });
    afterAll(async () => {
      await Promise.all(children.map(stop));
      await dropTestDatabase(server, fleet.db);
      rmSync(fleet.dir, { recursive: true, force: true });
    });
    return fleet;
  };

  describe('two server processes on one PostgreSQL', () => {
    const fleet = twoServers('updraft-fleet-');

    it('a release published through A is served and planned by B; a channel moved through B is what A plans', async () => {
      const { a, b, dir } = fleet;
      expect(a).not.toBe(b);
      const v1 = await fakeDist({ 'index.html': '<h1>fleet v1</h1>', 'assets/app.js': 'v1()' }, { app: 'fleet', version: '1.0.0', sw: 'sw()' });
      const v2 = await fakeDist({ 'index.html': '<h1>fleet v2</h1>', 'assets/app.js': 'v2()' }, { app: 'fleet', version: '2.0.0', sw: 'sw()' });
      await writeDist(join(dir, 'v1'), v1);
      await writeDist(join(dir, 'v2'), v2);
      expect(await publishDirectory(join(dir, 'v1'), { server: a, token: TOKEN, channel: 'stable' })).toMatchObject({ id: v1.manifest.id, seq: 1, created: true });

      // B plans it, with B as the fetch source, and serves its bytes and the app itself.
      const planned = await checkIn(b, 'fleet-client-0001', null);
      expect(planned.status).toBe('update');
      if (planned.status !== 'update') return;
      expect(planned.plan.to).toBe(v1.manifest.id);
      const fetchTask = planned.plan.tasks.find((t) => t.kind === 'fetch');
      expect(fetchTask && 'sources' in fetchTask && fetchTask.sources[0]).toMatch(new RegExp(`^${b}v1/blobs/`));
      const js = v1.manifest.assets.find((x) => x.path === 'assets/app.js')!;
      const blob = await fetch(joinUrl(b, `v1/blobs/${js.sha256}`));
      expect(blob.status).toBe(200);
      expect(await blob.text()).toBe('v1()');
      expect(await (await fetch(b)).text()).toBe('<h1>fleet v1</h1>');

      // A has planned v1 too (and may cache that answer).
      const before = await checkIn(a, 'fleet-client-0002', null);
      expect(before.status === 'update' && before.plan.to).toBe(v1.manifest.id);

      // A second publish through B gets the next seq: one sequence per app across the fleet.
      expect(await publishDirectory(join(dir, 'v2'), { server: b, token: TOKEN })).toMatchObject({ id: v2.manifest.id, seq: 2, created: true, uploaded: 2 });
      const moved = (await new AdminClient(b, TOKEN).request<ChannelState>('PUT', PATHS.adminChannel('stable'), { release: v2.manifest.id, percent: 100, activation: 'immediate' })).body;
      expect(moved).toMatchObject({ release: v2.manifest.id, previous: v1.manifest.id, activation: 'immediate' });

      // A's status reads the database: the move, both releases.
      const status = async () => (await new AdminClient(a, TOKEN).request<StatusResponse>('GET', PATHS.adminStatus)).body;
      const s = await status();
      // Plus what follows from it: no report on v2 yet since the move.
      expect(s.channels).toEqual([{ ...moved, health: { clients: 0, failed: 0, since: moved.sampleSince } }]);
      expect(s.releases.map((r) => [r.id, r.seq])).toEqual([[v1.manifest.id, 1], [v2.manifest.id, 2]]);
      // Each process may cache check-in answers and buffer client writes: A plans v2 a moment
      // later (B's change is announced by NOTIFY), and counts the client that checked in at B
      // once B has written it.
      await expect.poll(async () => {
        const replanned = await checkIn(a, 'fleet-client-0001', v1.manifest.id);
        return replanned.status === 'update' && replanned.plan.to;
      }, { timeout: 5000 }).toBe(v2.manifest.id);
      await expect.poll(async () => (await status()).clients.reduce((n, c) => n + c.count, 0), { timeout: 5000 }).toBe(2);
      expect(await (await fetch(a)).text()).toBe('<h1>fleet v2</h1>');
    });

    it('an app filter no app can have (a NUL byte, which PostgreSQL refuses) is 400 invalid_body, not a 500', async () => {
      for (const [method, path, body] of [['GET', `${PATHS.adminStatus}?app=%00`, undefined], ['PUT', `${PATHS.adminChannel('stable')}?app=%00`, { paused: true }]] as const) {
        const res = await fetch(joinUrl(fleet.a, path), { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
        expect(res.status, `${method} ${path}`).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_body');
      }
    });
  });

  describe('two server processes on one PostgreSQL with a capacity budget', () => {
    const BUDGET = { bytesPerSecond: 3000, requestsPerSecond: 5 };
    const UTIL = 0.96;
    const fleet = twoServers('updraft-fleet-cap-', ['--app', 'capped', '--capacity', JSON.stringify({ origin: BUDGET })]);

    it('their combined slot assignments respect one budget', async () => {
      const { a, b, dir, db } = fleet;
      const dist = await fakeDist(
        { 'index.html': '<h1>capped</h1>', 'assets/a.js': 'a'.repeat(900), 'assets/b.js': 'b'.repeat(1700), 'assets/c.css': 'c'.repeat(400) },
        { app: 'capped', version: '1.0.0', sw: 'sw()' },
      );
      await writeDist(join(dir, 'v1'), dist);
      await publishDirectory(join(dir, 'v1'), { server: a, token: TOKEN, channel: 'stable' });

      // 120 clients at once, every other one at each process.
      const plans = await Promise.all(Array.from({ length: 120 }, (_, i) => checkIn(i % 2 ? a : b, `capped-client-${String(i).padStart(4, '0')}`, null, 'capped')));
      const fetches = plans.flatMap((p) => (p.status === 'update' ? p.plan.tasks.filter((t): t is FetchTask => t.kind === 'fetch') : []));
      expect(fetches.length).toBeGreaterThanOrEqual(120 * 4);
      // Each fetch's request is booked in the second its notBefore falls in.
      const perSecond = new Map<number, number>();
      for (const f of fetches) perSecond.set(Math.floor(f.notBefore / 1000), (perSecond.get(Math.floor(f.notBefore / 1000)) ?? 0) + 1);
      expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(BUDGET.requestsPerSecond * UTIL);
      // At 4.8 requests a second, ~500 fetches take ~100 s of slots, not a few.
      const seconds = [...perSecond.keys()];
      expect(Math.max(...seconds) - Math.min(...seconds)).toBeGreaterThanOrEqual(Math.floor(fetches.length / (BUDGET.requestsPerSecond * UTIL)) - 1);
      // Bytes, as the shared ledger booked them: every second within the byte budget, every fetch booked once.
      const client = new Pg.Client({ connectionString: db });
      await client.connect();
      try {
        const { rows } = await client.query<{ bucket: string; bytes: number; requests: number }>("SELECT bucket, bytes, requests FROM updraft_slots WHERE source = 'origin'");
        for (const r of rows) expect(r.bytes).toBeLessThanOrEqual(BUDGET.bytesPerSecond * UTIL + 1e-6);
        // Every bucket holds exactly the fetches planned into it. A process's first booking sweeps
        // the buckets already past (the ledger forgets them), so on a slow run the other process's
        // first second may be gone by now: only a bucket in the past may be missing.
        const booked = new Map(rows.map((r) => [Number(r.bucket), r]));
        const now = Math.floor(Date.now() / 1000);
        let swept = false;
        for (const [bucket, n] of perSecond) {
          const row = booked.get(bucket);
          if (!row) {
            expect(bucket, 'a missing bucket is one already past').toBeLessThan(now);
            swept = true;
            continue;
          }
          // A fetch's request is booked in its notBefore's second (its bytes may run into the next).
          expect(row.requests, `requests in ${bucket}`).toBe(n);
        }
        if (!swept) {
          expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(fetches.length);
          expect(rows.reduce((n, r) => n + r.bytes, 0)).toBeCloseTo(fetches.reduce((n, f) => n + f.size, 0), 3);
        }
      } finally {
        await client.end();
      }
    });
  });
}
