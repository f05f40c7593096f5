/**
 * Steering a rollout as a team would, over real HTTP against a real server on 127.0.0.1, on a real
 * SQLite file and (when one is available) a real PostgreSQL: the same scenarios on both stores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, PATHS, joinUrl, type ChannelAnswer, type ChannelState, type CheckInResponse, type Report } from '../protocol/index.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { startServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { createTestDatabase, dropTestDatabase, findTestPostgres } from './postgres-test-db.js';
import { rolloutBucket } from './rollout-bucket.js';

const TOKEN = 'fleet-control-token';
const pg = await findTestPostgres();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type StoreKind = 'sqlite' | 'postgres';

async function setup(kind: StoreKind, options: Partial<UpdateServerOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-fleet-control-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  let db: string | undefined;
  if (kind === 'postgres') {
    const url = await createTestDatabase(pg.url!);
    db = url;
    cleanups.push(() => dropTestDatabase(pg.url!, url));
  }
  const server = await startServer({ dataDir: join(dir, 'data'), ...(db ? { db } : {}), token: TOKEN, ...options });
  cleanups.push(() => server.close());
  const base = server.url;
  const admin = async (method: string, path: string, body?: unknown) => {
    const init: RequestInit = { method, headers: { Authorization: `Bearer ${TOKEN}` } };
    if (body !== undefined) init.body = body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body);
    return fetch(joinUrl(base, path), init);
  };
  const publish = async (d: FakeDist) => {
    for (const a of [...d.manifest.assets, ...(d.manifest.sw ? [d.manifest.sw] : [])]) {
      expect((await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!)).status).toBe(201);
    }
    expect((await admin('POST', PATHS.adminReleases, d.manifest)).status).toBe(201);
    return d.manifest.id;
  };
  const channel = async (update: object) => {
    const res = await admin('PUT', PATHS.adminChannel('stable'), update);
    expect(res.status).toBe(200);
    return (await res.json()) as ChannelState;
  };
  const checkIn = async (client: string, release: string | null) => {
    const res = await fetch(joinUrl(base, PATHS.checkIn), {
      method: 'POST',
      body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as CheckInResponse;
    return body.status === 'update' ? { to: body.plan.to, activation: body.plan.activation } : null;
  };
  const report = async (release: string, clients: string[], event: Report['event']) => {
    const reports = clients.map((client) => ({ client, app: 'demo', release, event, at: 1 }));
    const res = await fetch(joinUrl(base, PATHS.reports), { method: 'POST', body: JSON.stringify({ reports }) });
    expect(res.status).toBe(202);
  };
  const state = async () => {
    const res = await admin('GET', PATHS.adminStatus);
    return ((await res.json()) as { channels: ChannelState[] }).channels.find((ch) => ch.name === 'stable')!;
  };
  /** The plan a client with `staged` gets: its target and whether it is a rollback directive. */
  const planFor = async (client: string, release: string | null, staged: string | null) => {
    const res = await fetch(joinUrl(base, PATHS.checkIn), {
      method: 'POST',
      body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, staged, caps: { sync: true, periodicSync: false, swIds: true } }),
    });
    const body = (await res.json()) as CheckInResponse;
    return body.status === 'update' ? { to: body.plan.to, rollback: body.plan.rollback ?? false } : null;
  };
  /** The release a first visit installs: the manifest the server serves beside the app. */
  const served = async () => {
    const res = await fetch(joinUrl(base, MANIFEST_FILE));
    expect(res.status).toBe(200);
    return ((await res.json()) as { id: string }).id;
  };
  const dist = (n: number) => fakeDist({ 'index.html': `<h1>v${n}</h1>`, [`assets/app-${n}.js`]: `v${n}()` }, { version: String(n), sw: 'sw()' });
  const [r1, r2, r3] = [await publish(await dist(1)), await publish(await dist(2)), await publish(await dist(3))] as [string, string, string];
  return { channel, checkIn, planFor, served, report, state, db, admin, base, r1, r2, r3 };
}

/** Client ids whose bucket for `release` is inside (`< percent`) or outside the rollout. */
function clientsFor(release: string, n: number, inside: (bucket: number) => boolean): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i++) {
    const id = `fleet-client-${String(i).padStart(5, '0')}`;
    if (inside(rolloutBucket(id, release))) ids.push(id);
  }
  return ids;
}

const kinds: StoreKind[] = pg.url ? ['sqlite', 'postgres'] : ['sqlite'];
if (!pg.url) {
  if (pg.required) it('PostgreSQL is available', () => expect.fail(pg.why));
  else console.warn(`fleet-control.test.ts: PostgreSQL cases skipped: ${pg.why}`);
}

describe.each(kinds)('fleet control on %s', (kind) => {
  it('a resumed channel stays resumed: the automatic pause counts the reports received since', async () => {
    const { channel, report, state, r1, r2 } = await setup(kind, { autoPause: { threshold: 0.3, minSample: 5 } });
    await channel({ release: r1 });
    await channel({ release: r2 });
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `pause-client-${String(from + i).padStart(4, '0')}`);
    await report(r2, ids(0, 3), 'activated');
    await report(r2, ids(3, 3), 'failed');
    expect(await state()).toMatchObject({ release: r2, paused: true });
    // The admin looked, found the cause elsewhere, and resumes: the old failures are not held against it again.
    expect((await channel({ paused: false })).paused).toBe(false);
    await report(r2, ids(6, 1), 'downloaded');
    expect(await state()).toMatchObject({ release: r2, paused: false });
    await report(r2, ids(7, 3), 'activated');
    expect(await state()).toMatchObject({ paused: false });
    // New failures after the resume, over a full sample again: paused again.
    await report(r2, ids(10, 2), 'failed');
    expect(await state()).toMatchObject({ release: r2, paused: true });
  });

  it('a paused channel serves its previous release to first visits, not the paused target', async () => {
    const { channel, served, r1, r2 } = await setup(kind);
    await channel({ release: r1 });
    await channel({ release: r2 });
    expect(await served()).toBe(r2);
    await channel({ paused: true, pausedReason: 'crash reports' });
    expect(await served()).toBe(r1);
    await channel({ paused: false });
    expect(await served()).toBe(r2);
  });

  it('a roll back reaches a client that has the newer release staged: its plan is a rollback directive', async () => {
    const { channel, planFor, r1, r2, r3 } = await setup(kind);
    await channel({ release: r1, activation: 'prompt' });
    await channel({ release: r3 });
    // Staged r3, waiting for the user's prompt: its worker refuses anything below r3 that is no rollback directive.
    expect(await planFor('staged-client-01', r1, null)).toEqual({ to: r3, rollback: false });
    await channel({ release: r2 });
    expect(await planFor('staged-client-01', r1, r3)).toEqual({ to: r2, rollback: true });
    expect(await planFor('staged-client-02', r3, null)).toEqual({ to: r2, rollback: true });
    // Moving forward again is no roll back.
    await channel({ release: r3 });
    expect(await planFor('staged-client-03', r1, r2)).toEqual({ to: r3, rollback: false });
  });

  it('a pause and a roll back reach what clients hold: current + drop, `dropped` reports accepted, counted, and no failure for the automatic pause', async () => {
    const { channel, report, state, admin, base, r1, r2 } = await setup(kind, { autoPause: { threshold: 0.3, minSample: 2 } });
    await channel({ release: r1, activation: 'prompt' });
    await channel({ release: r2 });
    const answer = async (client: string, held: { staged?: string; pending?: string }) => {
      const res = await fetch(joinUrl(base, PATHS.checkIn), {
        method: 'POST',
        body: JSON.stringify({ client, app: 'demo', channel: 'stable', release: r1, ...held, caps: { sync: true, periodicSync: false, swIds: true } }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as CheckInResponse;
    };
    expect(await answer('held-client-01', { pending: r2 })).toMatchObject({ status: 'update', plan: { to: r2 } });
    await channel({ paused: true, pausedReason: 'looking into it' });
    expect(await answer('held-client-01', { pending: r2 })).toMatchObject({ status: 'current', drop: true });
    expect(await answer('held-client-02', { staged: r2 })).not.toHaveProperty('drop');
    await channel({ release: r1 });
    expect(await answer('held-client-02', { staged: r2 })).toMatchObject({ status: 'current', drop: true });
    await channel({ release: r2 });
    // Drops are reported, stored and shown, and are no failures of the release.
    await report(r2, ['held-client-01', 'held-client-02', 'held-client-03'], 'dropped');
    expect(await state()).toMatchObject({ release: r2, paused: false });
    const status = (await (await admin('GET', PATHS.adminStatus)).json()) as { reportCounts: { release: string; event: string; count: number }[] };
    expect(status.reportCounts.filter((r) => r.release === r2 && r.event === 'dropped').reduce((n, r) => n + r.count, 0)).toBe(3);
  });

  it('lowering the percentage leaves clients already on the target where they are', async () => {
    const { channel, checkIn, r1, r2 } = await setup(kind);
    await channel({ release: r1 });
    await channel({ release: r2, percent: 50 });
    // Inside 50 % but outside 10 %: they got r2 and now fall outside the rollout.
    const moved = clientsFor(r2, 5, (b) => b >= 10 && b < 50);
    for (const id of moved) expect(await checkIn(id, r1)).toEqual({ to: r2, activation: 'next-navigation' });
    await channel({ percent: 10 });
    for (const id of moved) expect(await checkIn(id, r2)).toBeNull();
    // Those still on r1 and outside 10 % stay there; 0 % offers r2 to nobody new.
    for (const id of moved) expect(await checkIn(id, r1)).toBeNull();
    await channel({ percent: 0 });
    for (const id of moved) expect(await checkIn(id, r2)).toBeNull();
    // A roll back is what moves them: an older release as the target.
    await channel({ release: r1 });
    for (const id of moved) expect(await checkIn(id, r2)).toEqual({ to: r1, activation: 'next-navigation' });
  });

  it('two publishes racing to move the channel: the newer release stays the target, the older one\'s answer says it did not move', async () => {
    const { channel, admin, state, r1, r2, r3 } = await setup(kind);
    const move = async (release: string) => {
      const res = await admin('PUT', PATHS.adminChannel('stable'), { release, percent: 100, forwardOnly: true });
      expect(res.status).toBe(200);
      return (await res.json()) as ChannelAnswer;
    };
    await channel({ release: r1 });
    // The newer publish's move commits first: the older one's leaves the channel as it is, and says why.
    expect(await move(r3)).toMatchObject({ release: r3, previous: r1, moved: true });
    const late = await move(r2);
    expect(late).toMatchObject({ release: r3, previous: r1, moved: false });
    expect(late.reason).toBe(`channel stable targets ${r3} (#3), newer than ${r2} (#2): a publish moves a channel only forward (\`updraft rollout stable --release ${r2}\` rolls it back)`);
    // Both at once, in both orders, several times: r3 whichever commits last.
    for (let i = 0; i < 6; i++) {
      await channel({ release: r1 });
      const [older, newer] = i % 2 ? await Promise.all([move(r2), move(r3)]) : (await Promise.all([move(r3), move(r2)])).reverse() as [ChannelAnswer, ChannelAnswer];
      expect(await state()).toMatchObject({ release: r3 });
      expect(newer).toMatchObject({ release: r3, moved: true });
      // The older one moved only if it committed first; else it says so.
      expect([{ release: r2, moved: true }, { release: r3, moved: false }]).toContainEqual({ release: older!.release, moved: older!.moved });
    }
    // A roll back (no forwardOnly, as `updraft rollout --release`) still moves it back.
    expect(await channel({ release: r2 })).toMatchObject({ release: r2, previous: r3 });
  });

  it('a minimum newer than the channel\'s release is 409 minimum_ahead, set or left behind by a roll back; nothing changes', async () => {
    const { channel, admin, state, r1, r2, r3 } = await setup(kind);
    const put = async (update: object) => {
      const res = await admin('PUT', PATHS.adminChannel('stable'), update);
      return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
    };
    await channel({ release: r1 });
    await channel({ release: r2 });
    const ahead = await put({ minimum: r3 });
    expect(ahead.status).toBe(409);
    expect(ahead.body.error).toMatchObject({ code: 'minimum_ahead' });
    expect(ahead.body.error!.message).toContain(`minimum ${r3} (#3) is newer than ${r2} (#2)`);
    await channel({ minimum: r2 });
    const back = await put({ release: r1 });
    expect(back.status).toBe(409);
    expect(back.body.error!.message).toContain(`--release ${r1} --minimum none`);
    expect(await state()).toMatchObject({ release: r2, previous: r1, minimum: r2 });
    expect(await channel({ release: r1, minimum: null })).toMatchObject({ release: r1, previous: r2, minimum: null });
  });

  it('a partial roll back offers the release rolled back from to nobody: first visits, first installs and older clients outside stay off it', async () => {
    const { channel, checkIn, served, r1, r2, r3 } = await setup(kind);
    await channel({ release: r1 });
    await channel({ release: r3 });
    await channel({ release: r2, percent: 50 });
    const outside = clientsFor(r2, 3, (b) => b >= 50);
    const inside = clientsFor(r2, 3, (b) => b < 50);
    for (const id of outside) {
      expect(await checkIn(id, null)).toBeNull();
      expect(await checkIn(id, r1)).toBeNull();
      // The roll back is partial: outside it, a client on r3 stays there.
      expect(await checkIn(id, r3)).toBeNull();
    }
    for (const id of inside) expect(await checkIn(id, r3)).toEqual({ to: r2, activation: 'next-navigation' });
    expect(await served()).toBe(r2);
    // A full roll back whose percentage is lowered afterwards: the same.
    await channel({ release: r1 });
    await channel({ release: r3 });
    await channel({ release: r2 });
    await channel({ percent: 10 });
    for (const id of outside) expect(await checkIn(id, null)).toBeNull();
    expect(await served()).toBe(r2);
    await channel({ paused: true });
    for (const id of [...outside, ...inside]) expect(await checkIn(id, r1)).toBeNull();
    expect(await served()).toBe(r2);
  });

  it('a minimum above the previous release reaches clients outside the rollout too', async () => {
    const { channel, checkIn, served, r1, r2, r3 } = await setup(kind);
    await channel({ release: r1, activation: 'prompt' });
    await channel({ release: r3, percent: 10, minimum: r2 });
    const outside = clientsFor(r3, 3, (b) => b >= 10);
    const inside = clientsFor(r3, 3, (b) => b < 10);
    // Outside the rollout, below the minimum: at least the minimum, at once.
    for (const id of outside) expect(await checkIn(id, r1)).toEqual({ to: r2, activation: 'immediate' });
    for (const id of outside) expect(await checkIn(id, null)).toEqual({ to: r2, activation: 'prompt' });
    for (const id of outside) expect(await checkIn(id, r2)).toBeNull();
    for (const id of inside) expect(await checkIn(id, r1)).toEqual({ to: r3, activation: 'immediate' });
    // First visits start on the minimum too.
    expect(await served()).toBe(r2);
    // The target as the minimum: every client below it gets it, whatever its bucket.
    await channel({ minimum: r3 });
    for (const id of outside) expect(await checkIn(id, r1)).toEqual({ to: r3, activation: 'immediate' });
    for (const id of outside) expect(await checkIn(id, r2)).toEqual({ to: r3, activation: 'immediate' });
    // Paused, the target is offered to nobody, minimum or not.
    await channel({ paused: true });
    for (const id of outside) expect(await checkIn(id, r2)).toBeNull();
  });
});

if (pg.url) {
  describe('fleet control on postgres, with another server writing at the same moment', () => {
    /** A channel move another server committed while `during` was on its way, held until `during` waits for the row. */
    async function movedMeanwhile(db: string, move: string, during: () => Promise<Response>): Promise<Response> {
      const other = new Pg.Client({ connectionString: db });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(`UPDATE channels SET previous = release, release = $1, paused = FALSE, paused_reason = NULL WHERE app = 'demo' AND name = 'stable'`, [move]);
        const answer = during();
        await expect.poll(async () => (await other.query<{ n: number }>(
          `SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'updraft' AND wait_event_type = 'Lock'`,
        )).rows[0]!.n, { timeout: 5000 }).toBe(1);
        await other.query('COMMIT');
        return await answer;
      } finally {
        await other.end();
      }
    }

    it('an automatic pause and a roll back made through one server reach the cached answers of another at once', async () => {
      const a = await setup('postgres', { autoPause: { threshold: 0.5, minSample: 2 }, checkInCacheMs: 3_600_000 });
      // A second server on the same database, its check-in cache never ageing out: only the change counter can move it.
      const bDir = mkdtempSync(join(tmpdir(), 'updraft-fleet-control-b-'));
      cleanups.push(() => rmSync(bDir, { recursive: true, force: true }));
      const b = await startServer({ dataDir: bDir, db: a.db!, token: TOKEN, checkInCacheMs: 3_600_000 });
      cleanups.push(() => b.close());
      const checkInB = async (client: string, release: string | null) => {
        const res = await fetch(joinUrl(b.url, PATHS.checkIn), {
          method: 'POST',
          body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }),
        });
        const body = (await res.json()) as CheckInResponse;
        return body.status === 'update' ? body.plan.to : null;
      };
      await a.channel({ release: a.r1 });
      await a.channel({ release: a.r2 });
      await expect.poll(() => checkInB('cached-client-0001', a.r1), { timeout: 5000 }).toBe(a.r2);
      await a.report(a.r2, ['failing-client-01', 'failing-client-02'], 'failed');
      expect(await a.state()).toMatchObject({ paused: true });
      await expect.poll(() => checkInB('cached-client-0001', a.r1), { timeout: 5000 }).toBeNull();
      await a.channel({ release: a.r1 });
      await expect.poll(() => checkInB('cached-client-0002', a.r2), { timeout: 5000 }).toBe(a.r1);
    });

    it('a pause (no --release) pauses the release the channel has when it is written, and never moves it back', async () => {
      const { channel, admin, db, r1, r2, r3 } = await setup('postgres');
      await channel({ release: r1 });
      await channel({ release: r2 });
      const res = await movedMeanwhile(db!, r3, () => admin('PUT', PATHS.adminChannel('stable'), { paused: true, pausedReason: 'hold on' }));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ release: r3, previous: r2, paused: true, pausedReason: 'hold on' });
    });

    it('a publish whose channel move waits behind a newer release another server committed leaves the channel on the newer one', async () => {
      const { channel, admin, db, r1, r2, r3 } = await setup('postgres');
      await channel({ release: r1 });
      const res = await movedMeanwhile(db!, r3, () => admin('PUT', PATHS.adminChannel('stable'), { release: r2, percent: 100, forwardOnly: true }));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ release: r3, previous: r1, moved: false });
    });

    it('a percentage change keeps the release the channel has when it is written', async () => {
      const { channel, admin, db, r1, r2, r3 } = await setup('postgres');
      await channel({ release: r1 });
      await channel({ release: r2, percent: 50 });
      const res = await movedMeanwhile(db!, r3, () => admin('PUT', PATHS.adminChannel('stable'), { percent: 5 }));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ release: r3, previous: r2, percent: 5, paused: false });
    });
  });
}
