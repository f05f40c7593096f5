/** The real runtime, driven through the in-memory adapter: fake clock, scripted servers. */
import { describe, expect, it } from 'vitest';
import { CHECK_IN_INTERVAL_RANGE_S, type CheckNowReply, type HelloReply, type Plan, type ReadyReply, type ReportBatch, type SwConfig, type SwDebugState, type SwReply } from '../protocol/index.js';
import { scanWorkerBody } from '../server/check-in-request.js';
import { partKey } from './adapter.js';
import { ABSENT_GRACE_MS, collectGarbage, PIN_GRACE_MS } from './gc.js';
import { MemoryStore } from './memory-store.js';
import { flushOutbox } from './reports.js';
import { Runtime, SKIP_WAITING_AGAIN_MS, type FetchInput } from './runtime.js';
import { REFETCH_TIMEOUT_MS } from './serve.js';
import { REQUEST_TOTAL_MS } from './timed-fetch.js';
import { buildPlan, buildRelease, byReference, FakeClock, installedRuntime, TestAdapter, updateAnswer, type BuiltRelease } from './testing.js';

const config: SwConfig = { server: '/', app: 'demo', channel: 'stable', manifest: 'updraft-release.json', concurrency: 3, bootTimeoutMs: 30_000 };
const APP = 'https://app.test/';
const CDN = 'https://cdn.test/b/';
const CHECK_IN = APP + 'v1/check-in';
const REPORTS = APP + 'v1/reports';
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const cdn = (sha: string) => CDN + sha;
const origin = (sha: string) => APP + 'v1/blobs/' + sha;
/** An answer whose headers arrive with the start of its body, and then nothing more: a stalled server. */
const stalledAfterHeaders = (start: string) =>
  new Response(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode(start)) }), { headers: { 'content-type': 'application/json' } });

const V1 = { 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)', 'assets/shared.css': 'body{}' };
const V2 = { 'index.html': '<h1>v2</h1>', 'assets/app-2.js': 'console.log(2)', 'assets/shared.css': 'body{}', 'assets/extra.js': 'extra' };
const V3 = { 'index.html': '<h1>v3</h1>', 'assets/app-2.js': 'console.log(2)', 'assets/shared.css': 'body{}', 'assets/v3.js': 'three' };

/** An installed and activated worker on release v1, with a blob server on the CDN and the origin. */
const installed = (a = new TestAdapter()) => installedRuntime(V1, config, a);

function serveBlobs(a: TestAdapter, rel: BuiltRelease, where: 'cdn' | 'origin' | 'both' = 'both') {
  for (const [sha, text] of rel.blobs) {
    if (where !== 'origin') a.server.on(cdn(sha), new Response(text));
    if (where !== 'cdn') a.server.on(origin(sha), new Response(text));
  }
}

/** Answers check-ins with `plan`, for the release each check-in names (these workers trust no key). */
function offer(a: TestAdapter, plan: Plan) {
  a.server.on(CHECK_IN, updateAnswer(plan));
}

async function checkNow(rt: Runtime): Promise<CheckNowReply> {
  const reply = (await rt.onMessage({ type: 'updraft:check-now' }, 'window-1')) as SwReply<CheckNowReply>;
  if (!reply.ok) throw new Error(reply.message);
  await (await rt.runner()).run();
  return reply.value;
}

async function state(rt: Runtime): Promise<SwDebugState> {
  return rt.state();
}

/** undici refuses to construct mode "navigate": shadow the getter. */
function navigation(url: string): Request {
  const req = new Request(url);
  Object.defineProperty(req, 'mode', { value: 'navigate' });
  return req;
}

/** Waits for a condition the runtime reaches on its own (no guessed sleep): polls, bounded. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const task = async (rt: Runtime, id: string) => (await state(rt)).plan?.tasks.find((t) => t.id === id);

/**
 * Offers `release`'s plan for the part `sha` alone, whose CDN request hangs until `answer` is
 * called, and runs the task runner (`drain`) until that fetch is under way.
 */
async function hangingFetch(a: TestAdapter, rt: Runtime, release: BuiltRelease, sha: string) {
  let answer: (r: Response) => void = () => {};
  a.server.on(cdn(sha), () => new Promise<Response>((resolve) => (answer = resolve)));
  offer(a, buildPlan(release, { only: [sha] }));
  await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
  const drain = (await rt.runner()).run();
  await until(async () => (await task(rt, 'fetch-0'))?.state === 'running', 'the hanging fetch to start');
  return { answer: (r: Response) => answer(r), drain };
}
/** A plan to 2.0.0 accepted, its downloads booked an hour ahead (capacity slots): it waits, pending. */
async function pendingPlan(a: TestAdapter, rt: Runtime): Promise<BuiltRelease> {
  const r2 = await buildRelease(V2, '2.0.0');
  serveBlobs(a, r2);
  offer(a, buildPlan(r2, { notBefore: (_, issued) => issued + 3_600_000 }));
  await checkNow(rt);
  return r2;
}
const reportsSent = (a: TestAdapter) =>
  a.server.requests.filter((r) => r.url === REPORTS).flatMap((r) => (JSON.parse(r.body ?? '{}') as ReportBatch).reports);

describe('bootstrap', () => {
  it('precaches the manifest release, copies parts by hash, activates it and checks in', async () => {
    const { a, rt, r1 } = await installed();
    const s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(s.mode).toBe('normal');
    expect(a.skippedWaiting).toBe(1);
    expect(a.claimed).toBe(1);
    expect(a.precacheDropped).toBe(1);
    expect((await a.cache.keys()).sort()).toEqual([...r1.blobs.keys()].map((sha) => partKey(APP, sha)).sort());
    const checkIn = a.server.requests.find((r) => r.url === CHECK_IN);
    const body = JSON.parse(checkIn?.body ?? '{}');
    expect(body).toMatchObject({ app: 'demo', channel: 'stable', release: r1.manifest.id, staged: null, caps: { sync: true, periodicSync: false, quota: 1e9, usage: 1000, compactPlans: true, planRefs: true, swIds: true } });
    expect(body.client).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(s.nextCheckInAt).toBe(a.clock.now() + 3600_000);
  });

  it('pins the windows it claims (loaded before it controlled them) to the release it installed', async () => {
    const { a, rt, r1 } = await installed();
    // The network answered its document (it loaded before the worker existed): its ready() confirms nothing.
    expect((await state(rt)).pins).toEqual([{ clientId: 'window-1', release: r1.manifest.id, network: true }]);
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    // The first-visit window keeps v1's assets after v2 activated.
    const res = await rt.onFetch({ request: new Request(APP + 'assets/app-1.js'), clientId: 'window-1', resultingClientId: '' });
    expect(await res!.text()).toBe('console.log(1)');
  });

  it('still waiting a second after its install, asks to activate once more: Chromium forgets the first ask when the outgoing worker is restarted while it stops', async () => {
    const a = new TestAdapter();
    const r1 = await buildRelease(V1);
    a.server.on(APP + 'updraft-release.json', json(r1.manifest));
    for (const [path, text] of Object.entries(V1)) a.server.on(APP + path, new Response(text));
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600 }));
    const rt = new Runtime(a, config);
    await rt.onInstall();
    expect(a.skippedWaiting).toBe(1);
    a.clock.advance(SKIP_WAITING_AGAIN_MS - 1);
    expect(a.skippedWaiting).toBe(1);
    a.clock.advance(1);
    expect(a.skippedWaiting).toBe(2);
    // Once: Chromium re-runs its activation check for the first call made while waiting only.
    a.clock.advance(60 * SKIP_WAITING_AGAIN_MS);
    expect(a.skippedWaiting).toBe(2);
  });

  it('does not ask again once it activates', async () => {
    const { a } = await installed();
    expect(a.skippedWaiting).toBe(1);
    a.clock.advance(10 * SKIP_WAITING_AGAIN_MS);
    expect(a.skippedWaiting).toBe(1);
  });

  it('rejects a manifest whose id does not match its assets', async () => {
    const a = new TestAdapter();
    const r1 = await buildRelease(V1);
    a.server.on(APP + 'updraft-release.json', json({ ...r1.manifest, id: '0000000000000000' }));
    await expect(new Runtime(a, config).onInstall()).rejects.toThrow(/does not match/);
  });

  it('a manifest that stalls after its headers fails the install at the request deadline, not when the browser gives up', async () => {
    const a = new TestAdapter();
    a.server.on(APP + 'updraft-release.json', () => stalledAfterHeaders('{"app":"demo",'));
    const install = new Runtime(a, config).onInstall();
    const outcome = install.then(() => 'installed', (e: unknown) => String(e));
    await until(() => a.server.count(APP + 'updraft-release.json') === 1, 'the manifest request');
    a.clock.advance(30_000);
    expect(await outcome).toMatch(/within 30 s/);
  });

  it('a page that asks to check in while the first install runs (a checkNow() at load) gets the check-in of the installed release, not one of no release: it is not told to download the release being installed', async () => {
    const a = new TestAdapter();
    const r1 = await buildRelease(V1, '1.0.0');
    let manifest!: () => void;
    a.server.on(APP + 'updraft-release.json', () => new Promise<Response>((resolve) => (manifest = () => resolve(json(r1.manifest)))));
    for (const [path, text] of Object.entries(V1)) a.server.on(APP + path, new Response(text));
    serveBlobs(a, r1);
    // What a server answers a client that names no release: the whole release, as a plan.
    a.server.on(CHECK_IN, async (req: Request) => {
      const { release } = (await req.clone().json()) as { release: string | null };
      return release === null ? updateAnswer(buildPlan(r1))(req) : json({ status: 'current', nextCheckIn: 3600 });
    });
    const rt = new Runtime(a, config);
    const install = rt.onInstall();
    await until(() => a.server.count(APP + 'updraft-release.json') === 1, 'the install to ask for the manifest');
    const reply = rt.onMessage({ type: 'updraft:check-now' }, 'window-1') as Promise<SwReply<CheckNowReply>>;
    manifest();
    await install;
    expect(await reply).toEqual({ ok: true, value: { result: 'current' } });
    const bodies = a.server.requests.filter((r) => r.url === CHECK_IN).map((r) => JSON.parse(r.body ?? '{}') as { release: string | null });
    expect(bodies.map((b) => b.release)).toEqual([r1.manifest.id]);
    expect(a.events('update-available')).toEqual([]);
    expect((await state(rt)).plan).toBeNull();
  });

  it('keeps the client id across restarts', async () => {
    const { a, rt } = await installed();
    const again = new Runtime(a.restart(), config);
    expect((await again.state()).client).toBe((await rt.state()).client);
  });
});

/** After a check-in that failed: no check-in before its backoff ends, then one that goes out (the second request). */
async function nextCheckInAfterBackoff(a: TestAdapter, rt: Runtime): Promise<void> {
  const next = (await state(rt)).nextCheckInAt!;
  expect(next).toBeGreaterThan(a.clock.now());
  a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600 }));
  a.clock.advance(next - a.clock.now());
  await rt.wake('test');
  expect(a.server.count(CHECK_IN)).toBe(2);
}

describe('check-in', () => {
  it('activation does not wait on the network: it ends while the first check-in hangs, which then goes on under a sync event of its own', async () => {
    const a = new TestAdapter();
    const r1 = await buildRelease(V1, '1.0.0');
    a.server.on(APP + 'updraft-release.json', json(r1.manifest));
    for (const [path, text] of Object.entries(V1)) a.server.on(APP + path, new Response(text));
    let answer!: (r: Response) => void;
    a.server.on(CHECK_IN, () => new Promise<Response>((resolve) => (answer = resolve)));
    a.clients.push({ id: 'window-1', url: APP });
    const rt = new Runtime(a, config);
    await rt.onInstall();
    // Pages' fetches wait while a worker activates: activation ends with the check-in still out.
    await rt.onActivate();
    expect((await rt.state()).active).toBe(r1.manifest.id);
    await until(() => a.server.count(CHECK_IN) === 1, 'the first check-in to go out');
    expect(a.syncTags).toEqual(['updraft-tasks']);
    // Pages are served meanwhile.
    expect(await (await rt.onFetch({ request: new Request(APP + 'assets/app-1.js'), clientId: 'window-1', resultingClientId: '' })!).text()).toBe(V1['assets/app-1.js']);
    answer(json({ status: 'current', nextCheckIn: 3600 }));
    await rt.idle();
    expect((await state(rt)).nextCheckInAt).toBe(a.clock.now() + 3600_000);
  });

  it('does not check in on wake-ups before nextCheckInAt, does after', async () => {
    const { a, rt } = await installed();
    a.server.clear();
    a.clock.advance(3599_000);
    await rt.wake('test');
    expect(a.server.count(CHECK_IN)).toBe(0);
    a.clock.advance(1000);
    await rt.wake('test');
    expect(a.server.count(CHECK_IN)).toBe(1);
  });

  it('a next check-in the server sets out of range is held to [1 s, 2^31 - 1 ms]: a bad answer can neither silence the worker for good nor have it check in without pause', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 1e12 }));
    await checkNow(rt);
    expect((await state(rt)).nextCheckInAt).toBe(a.now() + CHECK_IN_INTERVAL_RANGE_S[1] * 1000);
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 0 }));
    await checkNow(rt);
    expect((await state(rt)).nextCheckInAt).toBe(a.now() + 1000);
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 90 }));
    await checkNow(rt);
    expect((await state(rt)).nextCheckInAt).toBe(a.now() + 90_000);
  });

  it('sends back the `recorded` acknowledgement of the last answer, and only that one', async () => {
    const { a, rt } = await installed();
    const bodies = () => a.server.requests.filter((r) => r.url === CHECK_IN).map((r) => JSON.parse(r.body ?? '{}') as { recorded?: string });
    // The bootstrap's answer carried none: nothing to send back.
    expect(bodies().at(-1)?.recorded).toBeUndefined();
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, recorded: 'abc123' }));
    await checkNow(rt);
    expect(bodies().at(-1)?.recorded).toBeUndefined();
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, recorded: 'def456' }));
    await checkNow(rt);
    expect(bodies().at(-1)?.recorded).toBe('abc123');
    // The newest one, each time.
    await checkNow(rt);
    expect(bodies().at(-1)?.recorded).toBe('def456');
    // Each body is spelled as the server's fast read expects (its key order), not left to JSON.parse.
    for (const r of a.server.requests.filter((q) => q.url === CHECK_IN)) expect(scanWorkerBody(r.body ?? ''), r.body ?? undefined).not.toBeNull();
  });

  it('a check-in answered by something other than an Updraft server (vite preview\'s 404) says so, with the URL; an Updraft error keeps its own message', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, new Response('', { status: 404 }), json({ error: { code: 'unknown_app', message: 'no app demo' } }, 404));
    const reply = await checkNow(rt);
    const hint = `HTTP 404 from ${CHECK_IN}, not an Updraft server's answer: is the update server there (the plugin's \`server\` option)?`;
    expect(reply).toEqual({ result: 'error', code: 'internal', message: hint });
    expect((await state(rt)).log.some((l) => l.includes(`check-in: ${hint}`))).toBe(true);
    a.clock.advance(24 * 3600_000);
    expect(await checkNow(rt)).toEqual({ result: 'error', code: 'unknown_app', message: 'no app demo' });
  });

  it('503 + Retry-After holds every check-in until then', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, new Response('busy', { status: 503, headers: { 'retry-after': '600' } }));
    a.server.clear();
    const t0 = a.clock.now();
    expect(await checkNow(rt)).toEqual({ result: 'retry', retryAt: t0 + 600_000 });
    a.clock.advance(599_000);
    expect(await checkNow(rt)).toEqual({ result: 'retry', retryAt: t0 + 600_000 });
    await rt.wake('test');
    expect(a.server.count(CHECK_IN)).toBe(1);
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 60 }));
    a.clock.advance(1000);
    expect(await checkNow(rt)).toEqual({ result: 'current' });
    expect(a.server.requests.filter((r) => r.url === CHECK_IN).map((r) => r.at)).toEqual([t0, t0 + 600_000]);
  });

  it('a check-in the server never answers times out on the worker\'s clock, and the next one goes out after the backoff', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, () => new Promise<Response>(() => {}));
    a.server.clear();
    const reply = rt.onMessage({ type: 'updraft:check-now' }, 'window-1') as Promise<SwReply<CheckNowReply>>;
    await until(() => a.server.count(CHECK_IN) === 1, 'the check-in to go out');
    a.clock.advance(29_999);
    // Joined while it hangs: still the one request.
    const joined = rt.onMessage({ type: 'updraft:check-now' }, 'window-1') as Promise<SwReply<CheckNowReply>>;
    a.clock.advance(1);
    expect(await reply).toMatchObject({ ok: true, value: { result: 'error', code: 'transport', message: expect.stringContaining('within 30 s') } });
    expect(await joined).toMatchObject({ ok: true, value: { result: 'error', code: 'transport' } });
    expect(a.server.count(CHECK_IN)).toBe(1);
    await nextCheckInAfterBackoff(a, rt);
  });

  it('a check-in whose answer stalls after its headers times out likewise, and the next one goes out after the backoff', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, () => stalledAfterHeaders('{"status":"current",'));
    a.server.clear();
    const reply = rt.onMessage({ type: 'updraft:check-now' }, 'window-1') as Promise<SwReply<CheckNowReply>>;
    await until(() => a.server.count(CHECK_IN) === 1, 'the check-in to go out');
    // The headers are in, the body never ends: the deadline covers both.
    a.clock.advance(30_000);
    expect(await reply).toMatchObject({ ok: true, value: { result: 'error', code: 'transport', message: expect.stringContaining('within 30 s') } });
    await nextCheckInAfterBackoff(a, rt);
    expect((await state(rt)).nextCheckInAt).toBe(a.clock.now() + 3600_000);
  });

  it('a check-in answer that arrives slowly but keeps arriving is not cut off: the deadline is per chunk', async () => {
    const { a, rt } = await installed();
    let body!: ReadableStreamDefaultController<Uint8Array>;
    a.server.on(CHECK_IN, () => new Response(new ReadableStream<Uint8Array>({ start: (c) => void (body = c) }), { headers: { 'content-type': 'application/json' } }));
    const reply = rt.checkInNow();
    await until(() => a.server.count(CHECK_IN) === 1, 'the check-in to go out');
    const text = JSON.stringify({ status: 'current', nextCheckIn: 3600 });
    // Three chunks 20 s apart: 60 s in all, never 30 s without one.
    for (const piece of [text.slice(0, 12), text.slice(12, 30), text.slice(30)]) {
      await new Promise((r) => setTimeout(r, 5));
      a.clock.advance(20_000);
      body.enqueue(new TextEncoder().encode(piece));
    }
    body.close();
    expect(await reply).toEqual({ result: 'current' });
  });

  it('a check-in answer that trickles in is cut off at the request\'s total limit, and check-ins joined to it are freed', async () => {
    const { a, rt } = await installed();
    let body!: ReadableStreamDefaultController<Uint8Array>;
    a.server.on(CHECK_IN, () => new Response(new ReadableStream<Uint8Array>({ start: (c) => void (body = c) }), { headers: { 'content-type': 'application/json' } }));
    a.server.clear();
    const reply = rt.checkInNow();
    await until(() => a.server.count(CHECK_IN) === 1, 'the check-in to go out');
    const joined = rt.checkInNow();
    // A space every 25 s: never idle for 30 s, never done.
    for (let t = 0; t < REQUEST_TOTAL_MS; t += 25_000) {
      await new Promise((r) => setTimeout(r, 5));
      a.clock.advance(Math.min(25_000, REQUEST_TOTAL_MS - t));
      body.enqueue(new TextEncoder().encode(' '));
    }
    expect(await reply).toMatchObject({ result: 'error', code: 'transport', message: expect.stringContaining(`no complete answer from ${CHECK_IN} within 120 s`) });
    expect(await joined).toMatchObject({ result: 'error', code: 'transport' });
    expect(a.server.count(CHECK_IN)).toBe(1);
  });

  it('check-ins arriving together share one request, so a Retry-After binds them all', async () => {
    const { a, rt } = await installed();
    a.server.on(CHECK_IN, new Response('', { status: 503, headers: { 'retry-after': '30' } }), json({ status: 'current', nextCheckIn: 3600 }));
    a.server.clear();
    const t0 = a.clock.now();
    const replies = await Promise.all([rt.checkInNow(), rt.checkInNow(), rt.wake('sync')]);
    expect(a.server.count(CHECK_IN)).toBe(1);
    expect(replies.slice(0, 2)).toEqual([{ result: 'retry', retryAt: t0 + 30_000 }, { result: 'retry', retryAt: t0 + 30_000 }]);
    expect(await rt.checkInNow()).toEqual({ result: 'retry', retryAt: t0 + 30_000 });
    expect(a.server.count(CHECK_IN)).toBe(1);
  });

  it('ignores a plan whose target is already active', async () => {
    const { a, rt, r1 } = await installed();
    offer(a, buildPlan(r1));
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r1.manifest.id });
    expect((await state(rt)).plan).toBeNull();
  });

  it('registers periodic sync with the server interval where granted', async () => {
    const a = new TestAdapter();
    a.periodicGranted = true;
    await installed(a);
    expect(a.periodic).toEqual([{ tag: 'updraft-check-in', minInterval: 3600_000 }]);
  });
});

describe('task runner', () => {
  it('a task whose outcome could not be stored (quota) runs again after a backoff instead of holding its slot, and the plan completes', async () => {
    const store = new MemoryStore();
    const { a, rt, r1 } = await installed(new TestAdapter({ store }));
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    offer(a, buildPlan(r2, { from: r1.manifest.id }));
    // The first write of a fetch's outcome fails, as IndexedDB does on a full origin.
    const putTasks = store.putTasks.bind(store);
    let failed = 0;
    store.putTasks = async (planId, tasks) => {
      if (failed === 0 && tasks.some((t) => t.state === 'done')) {
        failed++;
        throw new DOMException('quota', 'QuotaExceededError');
      }
      return putTasks(planId, tasks);
    };
    let reads = 0;
    const getPlan = store.getPlan.bind(store);
    store.getPlan = async () => (reads++, getPlan());
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    await rt.idle();
    expect(failed).toBe(1);
    const s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    // Not left `running`: pending again, due after a backoff, with a timer armed for it.
    const retried = s.plan!.tasks.find((t) => t.state !== 'done')!;
    expect(retried).toMatchObject({ state: 'pending' });
    expect(retried.nextAttemptAt).toBeGreaterThan(a.clock.now());
    // No busy loop meanwhile: time creeping up does not make the runner read the plan again and again.
    reads = 0;
    for (let i = 0; i < 20; i++) {
      a.clock.advance(1);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(reads).toBeLessThan(3);
    a.clock.advance(retried.nextAttemptAt - a.clock.now());
    await until(async () => (await state(rt)).active === r2.manifest.id, 'the plan to complete');
  });

  it('fetches every part from the CDN, stages, activates, reports and broadcasts', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    const plan = buildPlan(r2, { from: r1.manifest.id });
    offer(a, plan);
    a.server.clear();
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    // shared.css is already in the parts cache from v1: no request for it.
    const shared = r2.manifest.assets.find((x) => x.path === 'assets/shared.css')!.sha256;
    const expected = [...r2.blobs.keys()].filter((sha) => sha !== shared).map(cdn).sort();
    expect(a.server.urls().filter((u) => u.startsWith(CDN)).sort()).toEqual(expected);
    expect(a.server.urls().filter((u) => u.includes('/v1/blobs/'))).toEqual([]);
    const s = await state(rt);
    expect(s.active).toBe(r2.manifest.id);
    expect(s.staged).toBeNull();
    expect(s.plan?.tasks.every((t) => t.state === 'done')).toBe(true);
    // Once when activation ended (an event for its check-in), once for the plan.
    expect(a.syncTags).toEqual(['updraft-tasks', 'updraft-tasks']);
    // Each check-in (activation, then the one that brought the plan) tells pages when the next is due.
    expect(a.events('check-in-at')).toHaveLength(2);
    for (const e of a.events('check-in-at')) expect(e.at).toEqual(expect.any(Number));
    expect(a.events().map((e) => e.name).filter((n) => n !== 'check-in-at')).toEqual(['update-available', ...Array(4).fill('progress'), 'update-ready', 'activated']);
    expect(a.events('progress').at(-1)).toMatchObject({ partsDone: 4, partsTotal: 4 });
    expect(a.events('activated')[0]).toMatchObject({ release: r2.manifest.id, version: '2.0.0', policy: 'next-navigation' });
    expect(reportsSent(a).map((r) => r.event).sort()).toEqual(['activated', 'downloaded']);
  });

  it('says it takes release ids that cover sw.js (protocol 0.6), and runs a plan to one whose only change is its worker: nothing to fetch', async () => {
    const { a, rt, r1 } = await installed();
    // The same app files, another worker: a key rotation's build. Its id covers the worker; v1's is of the older form.
    const r2 = await buildRelease(V1, '1.0.1', 'index.html', 'self.rotated = 1');
    expect(r2.manifest.id).not.toBe(r1.manifest.id);
    offer(a, buildPlan(r2, { from: r1.manifest.id }));
    a.server.clear();
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    expect(JSON.parse(a.server.requests.find((r) => r.url === CHECK_IN)!.body!).caps.swIds).toBe(true);
    expect(a.server.urls().filter((u) => u.startsWith(CDN) || u.includes('/v1/blobs/'))).toEqual([]);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    expect(reportsSent(a).map((r) => r.event).sort()).toEqual(['activated', 'downloaded']);
  });

  it('says it reads compact plans, and runs one whose task list came as `fetch` (the CDN first, one time for all parts)', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    // A CDN that mirrors `v1/blobs/`, as `--cdn` bases are used by the server.
    const MIRROR = 'https://cdn.test/mirror/';
    for (const [sha, text] of r2.blobs) a.server.on(`${MIRROR}v1/blobs/${sha}`, new Response(text));
    const { tasks, ...plan } = buildPlan(r2, { from: r1.manifest.id });
    const parts = tasks.flatMap((t) => (t.kind === 'fetch' ? [{ sha256: t.sha256, size: t.size }] : []));
    a.server.on(CHECK_IN, json({ status: 'update', nextCheckIn: 3600, plan: { ...plan, fetch: { bases: [MIRROR, APP], notBefore: plan.issuedAt, parts } } }));
    a.server.clear();
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    const body = JSON.parse(a.server.requests.find((r) => r.url === CHECK_IN)!.body!) as { caps: Record<string, unknown> };
    expect(body.caps.compactPlans).toBe(true);
    const shared = r2.manifest.assets.find((x) => x.path === 'assets/shared.css')!.sha256;
    expect(a.server.urls().filter((u) => u.startsWith(MIRROR)).sort()).toEqual(parts.filter((p) => p.sha256 !== shared).map((p) => `${MIRROR}v1/blobs/${p.sha256}`).sort());
    const s = await state(rt);
    expect(s.active).toBe(r2.manifest.id);
    expect(s.plan?.tasks.map((t) => [t.id, t.state])).toEqual([
      ...parts.map((p) => [`fetch:${p.sha256}`, 'done']), ['install', 'done'], ['report:downloaded', 'done'], ['activate', 'done'], ['report:activated', 'done'],
    ]);
    expect(reportsSent(a).map((r) => r.event).sort()).toEqual(['activated', 'downloaded']);
  });

  it('says it fetches plan documents, and runs a plan answered by reference: one GET of the document, then the parts', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    const MIRROR = 'https://cdn.test/mirror/';
    for (const [sha, text] of r2.blobs) a.server.on(`${MIRROR}v1/blobs/${sha}`, new Response(text));
    const split = await byReference(buildPlan(r2, { from: r1.manifest.id, sources: [`${MIRROR}v1/blobs/{sha}`, `${APP}v1/blobs/{sha}`] }), [MIRROR, APP]);
    a.server.on(CHECK_IN, json(split.answer));
    a.server.on(APP + split.path, new Response(split.doc, { headers: { 'content-type': 'application/json' } }));
    a.server.clear();
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    const body = JSON.parse(a.server.requests.find((r) => r.url === CHECK_IN)!.body!) as { caps: Record<string, unknown> };
    expect(body.caps).toMatchObject({ compactPlans: true, planRefs: true });
    expect(a.server.count(APP + split.path)).toBe(1);
    // The document first, then the parts it lists (from the mirror).
    const urls = a.server.urls();
    expect(urls.indexOf(APP + split.path)).toBeLessThan(urls.findIndex((u) => u.startsWith(MIRROR)));
    const s = await state(rt);
    expect(s.active).toBe(r2.manifest.id);
    expect(s.plan?.planId).toBe(split.answer.ref.planId);
    expect(s.plan?.tasks.every((t) => t.state === 'done')).toBe(true);
    expect(reportsSent(a).map((r) => r.event).sort()).toEqual(['activated', 'downloaded']);
  });

  it('a plan document that stalls after its headers fails the check-in within the deadline, and nothing is stored', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    const split = await byReference(buildPlan(r2, { from: r1.manifest.id, sources: [`${CDN}v1/blobs/{sha}`, `${APP}v1/blobs/{sha}`] }), [CDN, APP]);
    a.server.on(CHECK_IN, json(split.answer));
    a.server.on(APP + split.path, () => stalledAfterHeaders(split.doc.slice(0, 100)));
    const reply = rt.checkInNow();
    await until(() => a.server.count(APP + split.path) === 1, 'the document request to go out');
    a.clock.advance(30_000);
    expect(await reply).toMatchObject({ result: 'error', code: 'transport', message: expect.stringContaining('within 30 s') });
    expect((await state(rt)).plan).toBeNull();
    expect((await state(rt)).active).toBe(r1.manifest.id);
  });

  it('an answer by reference whose document cannot be had or does not check out stores nothing and counts as a failed check-in', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    const split = await byReference(buildPlan(r2, { from: r1.manifest.id, sources: [`${CDN}v1/blobs/{sha}`, `${APP}v1/blobs/{sha}`] }), [CDN, APP]);
    a.server.on(CHECK_IN, json(split.answer));
    const doc = APP + split.path;
    const cases: [string, Response, Partial<CheckNowReply>][] = [
      ['bytes that do not hash to the name', new Response(split.doc.replace('"activation":"next-navigation"', '"activation":"immediate"')), { result: 'error', code: 'content' }],
      ['a document the server no longer offers', json({ error: { code: 'not_found', message: 'check in again' } }, 404), { result: 'error', code: 'not_found' }],
      ['the network failing', new Response(null, { status: 502 }), { result: 'error', code: 'transport' }],
    ];
    for (const [name, response, want] of cases) {
      a.server.on(doc, response);
      const before = a.clock.now();
      const reply = await checkNow(rt);
      expect(reply, name).toMatchObject(want);
      const s = await state(rt);
      expect(s.plan, name).toBeNull();
      expect(s.active).toBe(r1.manifest.id);
      expect(a.events('update-available'), name).toEqual([]);
      // Not the server's hour-long interval: a backoff, as for any failed check-in.
      const next = a.events('check-in-at').at(-1)!.at as number;
      expect(next - before, name).toBeLessThan(3600_000);
      a.clock.advance(next - a.clock.now());
    }
    // Overloaded: the document's Retry-After holds the next check-in.
    a.server.on(doc, new Response(null, { status: 503, headers: { 'retry-after': '120' } }));
    const held = await checkNow(rt);
    expect(held).toEqual({ result: 'retry', retryAt: a.clock.now() + 120_000 });
    expect(await checkNow(rt)).toEqual({ result: 'retry', retryAt: a.clock.now() + 120_000 });
    // Once the document is served as named, the same answer goes through.
    a.clock.advance(120_000);
    a.server.on(doc, new Response(split.doc));
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await state(rt)).active).toBe(r2.manifest.id);
    // After a document failed, the next check-in asks for the plan inline (no `planRefs`); once a
    // check-in went through, it asks for references again.
    await checkNow(rt);
    const refs = a.server.requests.filter((r) => r.url === CHECK_IN).map((r) => (JSON.parse(r.body!) as { caps: { planRefs?: boolean } }).caps.planRefs);
    expect(refs).toEqual([true, true, undefined, undefined, undefined, undefined, true]);
  });

  it('uses the origin when the CDN fails, and rejects corrupt bytes', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2, 'origin');
    const missing = [...r2.blobs.keys()].filter((sha) => !a.cache.entries.has(partKey(APP, sha)));
    const [first, second] = missing;
    a.server.on(cdn(first!), new TypeError('network error'));
    a.server.on(cdn(second!), new Response('corrupt!'.padEnd(r2.blobs.get(second!)!.length, '!')));
    offer(a, buildPlan(r2, { only: missing }));
    a.server.clear();
    await checkNow(rt);
    expect(a.server.count(cdn(first!))).toBe(1);
    expect(a.server.count(origin(first!))).toBe(1);
    expect(a.server.count(cdn(second!))).toBe(1);
    expect(a.server.count(origin(second!))).toBe(1);
    expect(a.cache.entries.has(partKey(APP, second!))).toBe(true);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, second!)))).toBe(r2.blobs.get(second!));
    expect((await state(rt)).active).toBe(r2.manifest.id);
  });

  it('bytes rejected at one source and served right by the next: reported as `rejected` (content), never `failed`', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    const sha = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    a.server.on(cdn(sha), new Response('EXTRA'));
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    const sent = reportsSent(a);
    expect(sent.filter((r) => r.event === 'failed')).toEqual([]);
    const rejected = sent.filter((r) => r.event === 'rejected');
    expect(rejected).toEqual([expect.objectContaining({ code: 'content', release: r2.manifest.id })]);
    expect(rejected[0]!.message).toContain(sha);
    expect(rejected[0]!.message).toContain(cdn(sha));
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, sha)))).toBe('extra');
  });

  it('429/503 without a usable Retry-After: the source is held for a growing backoff, attempts count, and the part gives up', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    const sha = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    const refusals = [
      new Response('', { status: 503 }),
      new Response('', { status: 429, headers: { 'retry-after': 'soon' } }),
      new Response('', { status: 503, headers: { 'retry-after': '-5' } }),
    ];
    a.server.on(cdn(sha), ...refusals, new Response('', { status: 503 }));
    a.server.on(origin(sha), new TypeError('down'));
    offer(a, buildPlan(r2, { only: [sha] }));
    await checkNow(rt);
    const gaps: number[] = [];
    let last = a.server.requests.filter((r) => r.url === cdn(sha)).at(-1)!.at;
    for (let i = 0; i < 12; i++) {
      const t = await task(rt, 'fetch-0');
      if (t?.state !== 'pending') break;
      // Nothing earlier than the task's own time: jump exactly there.
      a.clock.advance(t.nextAttemptAt - a.clock.now());
      await (await rt.runner()).run();
      const at = a.server.requests.filter((r) => r.url === cdn(sha)).at(-1)!.at;
      gaps.push(at - last);
      last = at;
    }
    // random() is 0.5: half of min(cap, 1 s * 2^attempts), floored at 1 s.
    expect(gaps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(a.server.count(cdn(sha))).toBe(6);
    expect(a.events('failed')).toEqual([expect.objectContaining({ code: 'transport' })]);
  });

  it('503 + Retry-After holds a source: no request to it before T', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2, 'origin');
    const shas = [...r2.blobs.keys()];
    for (const sha of shas) a.server.on(cdn(sha), new Response('', { status: 503, headers: { 'retry-after': '600' } }));
    for (const sha of shas) a.server.on(origin(sha), new Response('', { status: 429, headers: { 'retry-after': '120' } }), new Response(r2.blobs.get(sha)));
    offer(a, buildPlan(r2));
    a.server.clear();
    const t0 = a.clock.now();
    await checkNow(rt);
    const s = await state(rt);
    expect(s.holdUntil).toMatchObject({ 'https://cdn.test': t0 + 600_000, 'https://app.test': t0 + 120_000 });
    const fetch0 = s.plan?.tasks.find((t) => t.kind === 'fetch' && t.state === 'pending');
    expect(fetch0?.nextAttemptAt).toBe(t0 + 120_000);
    expect(fetch0?.attempts).toBe(0); // holds do not spend attempts
    expect(a.events('wake-at').at(-1)).toEqual({ name: 'wake-at', at: t0 + 120_000 });
    const before = a.server.requests.length;
    a.clock.advance(119_000);
    await rt.wake('test');
    expect(a.server.requests.slice(before).filter((r) => r.url !== CHECK_IN)).toEqual([]);
    a.clock.advance(1000); // the runner's timer fires at T
    await (await rt.runner()).run();
    // The last part was first tried at T (concurrency 3), got its own 429, and waits another 120 s.
    expect((await task(rt, 'fetch-3'))?.nextAttemptAt).toBe(t0 + 240_000);
    a.clock.advance(120_000);
    await (await rt.runner()).run();
    const cdnAfter = a.server.requests.filter((r) => r.url.startsWith(CDN) && r.at > t0);
    expect(cdnAfter).toEqual([]);
    expect((await state(rt)).active).toBe(r2.manifest.id);
  });

  it('resumes after a kill: a new runtime on the same stores fetches only what is missing', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2, 'cdn');
    const missing = [...r2.blobs.keys()].filter((sha) => !a.cache.entries.has(partKey(APP, sha)));
    const stuck = missing[2]!;
    a.server.on(cdn(stuck), () => new Promise<Response>(() => {})); // never answers: the worker "dies" mid-fetch
    offer(a, buildPlan(r2, { only: missing }));
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    await until(async () => (await state(rt)).plan?.tasks.filter((t) => t.state === 'done').length === missing.length - 1, 'every other part');
    expect((await state(rt)).plan?.tasks.filter((t) => t.state === 'running').length).toBe(1);

    const b = a.restart();
    b.server.on(cdn(stuck), new Response(r2.blobs.get(stuck)));
    b.server.clear();
    const rt2 = new Runtime(b, config);
    await rt2.wake('sync');
    expect(b.server.urls().filter((u) => u.startsWith(CDN))).toEqual([cdn(stuck)]);
    expect((await state(rt2)).active).toBe(r2.manifest.id);
  });

  it('a superseding plan reuses parts the old plan fetched', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    const r3 = await buildRelease(V3);
    serveBlobs(a, r2);
    serveBlobs(a, r3);
    const extra = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    a.server.on(cdn(extra), new TypeError('down'));
    a.server.on(origin(extra), new TypeError('down'));
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).not.toBe(r2.manifest.id);
    const app2 = r2.manifest.assets.find((x) => x.path === 'assets/app-2.js')!.sha256;
    expect(a.cache.entries.has(partKey(APP, app2))).toBe(true);

    offer(a, buildPlan(r3));
    a.clock.advance(10_000); // the old plan's retry timer fires: extra.js fails again
    await (await rt.runner()).run();
    a.server.clear();
    await checkNow(rt);
    const v3only = ['index.html', 'assets/v3.js'].map((p) => cdn(r3.manifest.assets.find((x) => x.path === p)!.sha256)).sort();
    expect(a.server.urls().filter((u) => u.startsWith(CDN)).sort()).toEqual(v3only);
    expect((await state(rt)).active).toBe(r3.manifest.id);
  });

  it('a superseding plan starts at once and aborts the old plan\'s request hanging for a part it does not need: nothing is stored', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2);
    const r3 = await buildRelease(V3);
    serveBlobs(a, r3);
    const extra = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    const { answer, drain } = await hangingFetch(a, rt, r2, extra);

    offer(a, buildPlan(r3));
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    // r3 activates; r2's request was aborted when r3's plan was stored, not left to finish.
    await until(async () => (await state(rt)).active === r3.manifest.id, 'r3 to activate');
    expect(a.server.aborted()).toEqual([cdn(extra)]);
    // The abort is no failure of the source: the next one was not tried.
    expect(a.server.count(origin(extra))).toBe(0);
    answer(new Response('extra'));
    await drain;
    await (await rt.runner()).idle();
    expect(a.events('failed')).toEqual([]);
    expect(reportsSent(a).filter((r) => r.event === 'failed')).toEqual([]);
    const keep = new Set([...r1.manifest.assets, ...r3.manifest.assets].map((x) => partKey(APP, x.sha256)));
    expect([...a.cache.entries.keys()].sort()).toEqual([...keep].sort());
  });

  it('a superseding plan lets the old plan\'s request for a part both need finish, and waits for it instead of asking again', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    const r3 = await buildRelease(V3);
    serveBlobs(a, r3);
    // app-2.js is in both releases.
    const shared = r2.manifest.assets.find((x) => x.path === 'assets/app-2.js')!.sha256;
    const { answer } = await hangingFetch(a, rt, r2, shared);

    offer(a, buildPlan(r3));
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    // r3's other parts arrive; its task for the shared part waits for r2's request.
    const others = [...r3.blobs.keys()].filter((sha) => sha !== shared && !a.cache.entries.has(partKey(APP, sha)));
    await until(() => others.every((sha) => a.cache.entries.has(partKey(APP, sha))), 'r3\'s other parts');
    expect((await state(rt)).active).not.toBe(r3.manifest.id);
    expect(a.server.aborted()).toEqual([]);
    answer(new Response(r3.blobs.get(shared)));
    await until(async () => (await state(rt)).active === r3.manifest.id, 'r3 to activate');
    // One request for the part, for both plans.
    expect(a.server.count(cdn(shared)) + a.server.count(origin(shared))).toBe(1);
    expect(a.cache.entries.has(partKey(APP, shared))).toBe(true);
  });

  it('a source that stalls (no headers, or no next chunk, for 30 s) is left for the next one; the update lands', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2, 'origin');
    const missing = [...r2.blobs.keys()].filter((sha) => !a.cache.entries.has(partKey(APP, sha)));
    const [silent, trickle] = missing;
    let cancelled = false;
    a.server.on(cdn(silent!), () => new Promise<Response>(() => {}));
    a.server.on(cdn(trickle!), () => new Response(new ReadableStream<Uint8Array>({
      start(c) { c.enqueue(new Uint8Array([1])); }, // one byte, then nothing
      cancel() { cancelled = true; },
    })));
    for (const sha of missing.slice(2)) a.server.on(cdn(sha), new Response(r2.blobs.get(sha)));
    offer(a, buildPlan(r2, { only: missing }));
    const check = rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    await check;
    const runner = (await rt.runner()).run();
    await until(() => a.server.count(cdn(silent!)) === 1 && a.server.count(cdn(trickle!)) === 1, 'both stalled requests');
    expect(a.server.count(origin(silent!))).toBe(0);
    a.clock.advance(30_000);
    await runner;
    await until(async () => (await state(rt)).active === r2.manifest.id, 'the update to land');
    expect(a.server.count(origin(silent!))).toBe(1);
    expect(a.server.count(origin(trickle!))).toBe(1);
    expect(cancelled).toBe(true);
  });

  it('quota exceeded fails the plan without retry and keeps the active release', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    a.cache.quota = [...a.cache.entries.values()].reduce((n, b) => n + b.byteLength, 0) + 5;
    offer(a, buildPlan(r2));
    await checkNow(rt);
    const s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(s.staged).toBeNull();
    expect(a.events('failed')).toEqual([expect.objectContaining({ code: 'quota', release: r2.manifest.id })]);
    expect(reportsSent(a)).toEqual([expect.objectContaining({ event: 'failed', code: 'quota', release: r2.manifest.id })]);
    const fetches = a.server.urls().filter((u) => u.startsWith(CDN)).length;
    a.clock.advance(600_000);
    await (await rt.runner()).run();
    expect(a.server.urls().filter((u) => u.startsWith(CDN)).length).toBe(fetches);
  });

  it('bytes wrong at every source fail the plan with `content` after 3 attempts', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2);
    const sha = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    a.server.on(cdn(sha), new Response('EXTRA'));
    a.server.on(origin(sha), new Response('eXtra'));
    offer(a, buildPlan(r2, { only: [sha] }));
    await checkNow(rt);
    for (let i = 0; i < 5; i++) {
      a.clock.advance(300_000);
      await (await rt.runner()).run();
    }
    expect(a.server.count(cdn(sha))).toBe(3);
    expect(a.events('failed')).toEqual([expect.objectContaining({ code: 'content' })]);
    // Every try bypasses the HTTP cache, which would otherwise replay the first corrupt copy.
    expect(a.server.requests.filter((r) => r.url === cdn(sha)).map((r) => r.cache)).toEqual(['no-store', 'no-store', 'no-store']);
    expect((await state(rt)).active).toBe(r1.manifest.id);
  });

  it('transport failures back off and give up after 6 attempts', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    const sha = r2.manifest.assets.find((x) => x.path === 'assets/extra.js')!.sha256;
    a.server.on(cdn(sha), new TypeError('down'));
    a.server.on(origin(sha), new Response('oops', { status: 500 }));
    offer(a, buildPlan(r2, { only: [sha] }));
    await checkNow(rt);
    const t = await task(rt, 'fetch-0');
    expect(t?.attempts).toBe(1);
    expect(t?.nextAttemptAt).toBeGreaterThan(a.clock.now());
    for (let i = 0; i < 10; i++) {
      a.clock.advance(300_000);
      await (await rt.runner()).run();
    }
    expect(a.server.count(cdn(sha))).toBe(6);
    expect(a.events('failed')).toEqual([expect.objectContaining({ code: 'transport' })]);
  });

  it('prompt policy stages and waits for updraft:apply', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    offer(a, buildPlan(r2, { activation: 'prompt' }));
    await checkNow(rt);
    a.clock.advance(3_000_000);
    await rt.wake('test');
    let s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(s.staged).toBe(r2.manifest.id);
    expect(a.events('update-ready')).toEqual([{ name: 'update-ready', release: r2.manifest.id, version: '2.0.0', policy: 'prompt' }]);
    // Later wake-ups (a sync event, a page's check) must not repeat progress after update-ready:
    // a page showing the last event would lose its "apply" prompt (a CI flake).
    const before = a.events().length;
    await rt.wake('sync');
    await (await rt.runner()).run();
    expect(a.events().slice(before).map((e) => e.name).filter((n) => n === 'progress' || n === 'update-ready')).toEqual([]);
    expect(a.events().filter((e) => e.name !== 'check-in-at' && e.name !== 'wake-at').at(-1)?.name).toBe('update-ready');
    expect(s.plan?.applied).toBe(false);
    const reply = await rt.onMessage({ type: 'updraft:apply' }, 'window-1');
    expect(reply).toEqual({ ok: true, value: { release: r2.manifest.id } });
    s = await state(rt);
    // The consent shows in the debug state, JSON and text.
    expect(s.plan?.applied).toBe(true);
    expect(await (await rt.onFetch({ request: new Request(APP + '__updraft/state'), clientId: 'window-1', resultingClientId: '' })!).text()).toContain('(prompt, applied)');
    expect(s.active).toBe(r2.manifest.id);
    expect(s.staged).toBeNull();
    expect(a.events('activated')[0]).toMatchObject({ policy: 'prompt' });
  });

  it('a roll back withdraws a staged release: current + drop clears staged and the plan, reports dropped, tells pages; apply then activates nothing', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    offer(a, buildPlan(r2, { activation: 'prompt' }));
    await checkNow(rt);
    expect((await state(rt)).staged).toBe(r2.manifest.id);
    // The channel is pointed back at v1: the server answers `current` with `drop`.
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, drop: true }));
    a.server.clear();
    expect(await checkNow(rt)).toEqual({ result: 'current' });
    const sent = JSON.parse(a.server.requests.find((r) => r.url === CHECK_IN)!.body!) as Record<string, unknown>;
    // The staged release was reported as such; nothing is pending (its plan is staged).
    expect(sent).toMatchObject({ release: r1.manifest.id, staged: r2.manifest.id });
    expect(sent).not.toHaveProperty('pending');
    const s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(s.staged).toBeNull();
    expect(s.plan).toBeNull();
    expect(a.events('withdrawn')).toEqual([{ name: 'withdrawn', release: r2.manifest.id, active: r1.manifest.id }]);
    expect(reportsSent(a)).toEqual([expect.objectContaining({ event: 'dropped', release: r2.manifest.id, planId: `plan-${r2.manifest.id}` })]);
    // v2's own parts and its release record are collected; v1's stay.
    expect(s.releases).toEqual([r1.manifest.id]);
    expect((await a.cache.keys()).sort()).toEqual([...r1.blobs.keys()].map((sha) => partKey(APP, sha)).sort());
    // A page that still shows "apply" activates nothing.
    expect(await rt.onMessage({ type: 'updraft:apply' }, 'window-1')).toEqual({ ok: true, value: { release: r1.manifest.id } });
    expect((await state(rt)).active).toBe(r1.manifest.id);
    expect(a.events('activated')).toEqual([]);
    expect((await rt.hello('window-1')).pending).toBeNull();
  });

  it('a pause withdraws a pending plan: the check-in says pending, current + drop ends its downloads before they start', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await pendingPlan(a, rt);
    expect((await state(rt)).plan?.to).toBe(r2.manifest.id);
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, drop: true }));
    a.server.clear();
    await checkNow(rt);
    const body = a.server.requests.find((r) => r.url === CHECK_IN)!.body!;
    // As the worker writes it, the server's scanner reads it (no JSON.parse fallback).
    expect(scanWorkerBody(body)).toMatchObject({ release: r1.manifest.id, staged: null, pending: r2.manifest.id });
    expect((await state(rt)).plan).toBeNull();
    expect(a.events('withdrawn')).toEqual([{ name: 'withdrawn', release: r2.manifest.id, active: r1.manifest.id }]);
    expect(reportsSent(a)).toEqual([expect.objectContaining({ event: 'dropped', release: r2.manifest.id, planId: `plan-${r2.manifest.id}` })]);
    // The slot comes and goes: no part is asked for, nothing is staged or activated.
    a.clock.advance(2 * 3_600_000);
    await rt.wake('sync');
    await (await rt.runner()).run();
    expect(a.server.urls().filter((u) => u.startsWith(CDN) || u.startsWith(APP + 'v1/blobs/'))).toEqual([]);
    const s = await state(rt);
    expect([s.active, s.staged]).toEqual([r1.manifest.id, null]);
    expect(a.events('update-ready')).toEqual([]);
    // The next check-in holds nothing: no `pending`, and a plain `current` leaves it so.
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600 }));
    a.server.clear();
    await checkNow(rt);
    expect(JSON.parse(a.server.requests.find((r) => r.url === CHECK_IN)!.body!)).not.toHaveProperty('pending');
  });

  it('a drop aborts the plan\'s part requests in flight: not failures, no next source, no retry, nothing stored', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2, 'origin');
    const missing = [...r2.blobs.keys()].filter((sha) => !a.cache.entries.has(partKey(APP, sha)));
    expect(missing.length).toBe(3);
    const [silent, trickle, whole] = missing as [string, string, string];
    // One source never answers, one sends its headers and a byte and then nothing, one would answer
    // once let go: a pause comes while all three are open.
    let bodyCancelled = false;
    let answer: (r: Response) => void = () => {};
    a.server.on(cdn(silent), () => new Promise<Response>(() => {}));
    a.server.on(cdn(trickle), () => new Response(new ReadableStream<Uint8Array>({
      start(c) { c.enqueue(new Uint8Array([1])); },
      cancel() { bodyCancelled = true; },
    })));
    a.server.on(cdn(whole), () => new Promise<Response>((resolve) => (answer = resolve)));
    offer(a, buildPlan(r2, { only: missing }));
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    const drain = (await rt.runner()).run();
    await until(() => missing.every((sha) => a.server.count(cdn(sha)) === 1), 'the three part requests');
    await until(async () => (await state(rt)).plan?.tasks.filter((t) => t.state === 'running').length === 3, 'three tasks running');

    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, drop: true }));
    expect(await rt.onMessage({ type: 'updraft:check-now' }, 'window-1')).toEqual({ ok: true, value: { result: 'current' } });
    // Ended at once, on the worker's clock: no deadline had to pass. The two waiting for headers
    // were aborted; the one reading its body let go of the stream.
    await until(() => a.server.aborted().length === 2 && bodyCancelled, 'the open requests to be aborted');
    expect(a.server.aborted().sort()).toEqual([cdn(silent), cdn(whole)].sort());
    await drain;
    answer(new Response(r2.blobs.get(whole)));
    await (await rt.runner()).idle();
    // Nothing was tried elsewhere, later, or counted against the plan.
    a.clock.advance(3_600_000);
    await (await rt.runner()).run();
    expect(a.server.urls().filter((u) => u.startsWith(APP + 'v1/blobs/'))).toEqual([]);
    expect(missing.map((sha) => a.server.count(cdn(sha)))).toEqual([1, 1, 1]);
    expect(a.events('failed')).toEqual([]);
    expect(reportsSent(a).map((r) => r.event)).toEqual(['dropped']);
    const s = await state(rt);
    expect([s.active, s.staged, s.plan]).toEqual([r1.manifest.id, null, null]);
    expect([...a.cache.entries.keys()].sort()).toEqual([...r1.blobs.keys()].map((sha) => partKey(APP, sha)).sort());
  });

  it('a plain current (a server before 0.5, or nothing withdrawn) keeps a pending plan and a staged release', async () => {
    const { a, rt } = await installed();
    const r2 = await pendingPlan(a, rt);
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600 }));
    await checkNow(rt);
    expect((await state(rt)).plan?.to).toBe(r2.manifest.id);
    a.clock.advance(3_600_000);
    await (await rt.runner()).run();
    expect((await state(rt)).active).toBe(r2.manifest.id);
    expect(a.events('withdrawn')).toEqual([]);
  });

  it('a roll back to a release between: the rollback plan supersedes the staged newer release, and apply() meanwhile never activates that one', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serveBlobs(a, r2);
    serveBlobs(a, r3);
    offer(a, buildPlan(r3, { activation: 'prompt' }));
    await checkNow(rt);
    expect((await state(rt)).staged).toBe(r3.manifest.id);
    // The channel goes back from 3.0.0 to 2.0.0, activated on the next navigation; its downloads
    // are booked an hour ahead.
    offer(a, buildPlan(r2, { rollback: true, toSeq: r2.seq, notBefore: (_, issued) => issued + 3_600_000 }));
    await checkNow(rt);
    expect((await state(rt)).plan?.to).toBe(r2.manifest.id);
    // A page that loads now is not told 3.0.0 is ready.
    expect((await rt.hello('window-1')).pending).toBeNull();
    // A page still showing 3.0.0's prompt applies: the plan it gets is 2.0.0's, when it lands.
    expect(await rt.onMessage({ type: 'updraft:apply' }, 'window-1')).toEqual({ ok: true, value: { release: r1.manifest.id } });
    expect((await state(rt)).active).toBe(r1.manifest.id);
    a.clock.advance(3_600_000);
    await (await rt.runner()).run();
    const s = await state(rt);
    expect([s.active, s.staged]).toEqual([r2.manifest.id, null]);
    expect(a.events('activated').map((e) => e.release)).toEqual([r2.manifest.id]);
    expect(s.releases.sort()).toEqual([r1.manifest.id, r2.manifest.id].sort());
  });

  it('an install running when its plan is dropped stages nothing', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    // As the server plans it: no fetch for the part v1 shares.
    const shared = [...r2.blobs.keys()].find((sha) => r1.blobs.has(sha))!;
    offer(a, buildPlan(r2, { activation: 'prompt', only: [...r2.blobs.keys()].filter((sha) => sha !== shared) }));
    // The install needs that part, evicted meanwhile: its refetch is held until the drop is done,
    // as if the answer came while the install ran.
    await a.cache.delete(partKey(APP, shared));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    a.server.on(origin(shared), async () => {
      await held;
      return new Response(r2.blobs.get(shared)!);
    });
    a.server.on(cdn(shared), async () => {
      await held;
      return new Response(r2.blobs.get(shared)!);
    });
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    const drain = (await rt.runner()).run();
    await until(() => a.server.count(origin(shared)) + a.server.count(cdn(shared)) > 0, 'the install\'s refetch');
    expect((await task(rt, 'install'))?.state).toBe('running');
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, drop: true }));
    // The check-in runs while the install waits (its plan is not staged: reported pending).
    const reply = await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    expect(reply).toEqual({ ok: true, value: { result: 'current' } });
    release();
    await drain;
    const s = await state(rt);
    expect([s.active, s.staged, s.plan]).toEqual([r1.manifest.id, null, null]);
    expect(a.events('update-ready')).toEqual([]);
  });

  it('drops an expired plan with a plan_expired report', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2, { expiresIn: 60_000, notBefore: (_, issued) => issued + 120_000 }));
    await checkNow(rt);
    a.clock.advance(120_000);
    await (await rt.runner()).run();
    expect((await state(rt)).plan).toBeNull();
    expect((await state(rt)).active).toBe(r1.manifest.id);
    expect(reportsSent(a)).toEqual([expect.objectContaining({ event: 'failed', code: 'plan_expired' })]);
    expect(a.server.urls().filter((u) => u.startsWith(CDN))).toEqual([]);
  });

  it('retries reports with backoff and never fails the plan', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    a.server.on(REPORTS, new TypeError('down'), new Response(null, { status: 204 }));
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    expect(a.server.count(REPORTS)).toBe(1);
    a.clock.advance(5_000);
    await (await rt.runner()).run();
    expect(a.server.count(REPORTS)).toBe(2);
    expect(reportsSent(a).map((r) => r.event).sort()).toEqual(['activated', 'activated', 'downloaded', 'downloaded']);
  });
});

/** Every response the parts cache hands out from now on, to tell the stored response itself from a wrap of it. */
function recordMatches(a: TestAdapter): Response[] {
  const matched: Response[] = [];
  const match = a.cache.match.bind(a.cache);
  a.cache.match = async (key: string) => {
    const r = await match(key);
    if (r) matched.push(r);
    return r;
  };
  return matched;
}

describe('fetch handling', () => {
  const nav = (url: string, resultingClientId: string) => ({ request: navigation(url), clientId: '', resultingClientId });
  const sub = (url: string, clientId: string) => ({ request: new Request(url), clientId, resultingClientId: '' });

  it('answers a Range request (a media element\'s) with 206 and that slice, or 416, from the release, never reaching the network', async () => {
    const { a, rt } = await installed();
    a.server.clear();
    const ranged = (range: string) => rt.onFetch({ request: new Request(APP + 'assets/app-1.js', { headers: { range } }), clientId: 'window-1', resultingClientId: '' })!;
    const text = V1['assets/app-1.js'];
    for (const [range, start, end] of [['bytes=0-', 0, text.length - 1], ['bytes=2-5', 2, 5], ['bytes=-3', text.length - 3, text.length - 1]] as const) {
      const res = await ranged(range);
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${text.length}`);
      expect(res.headers.get('accept-ranges'), range).toBe('bytes');
      expect(res.headers.get('content-length'), range).toBe(String(end - start + 1));
      expect(res.headers.get('content-type'), range).toBe('text/javascript; charset=utf-8');
      expect(await res.text(), range).toBe(text.slice(start, end + 1));
    }
    const outside = await ranged(`bytes=${text.length}-`);
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${text.length}`);
    // Without a Range, the whole part as before.
    expect((await rt.onFetch(sub(APP + 'assets/app-1.js', 'window-1'))!).status).toBe(200);
    expect(a.server.requests).toEqual([]);
  });

  it('answers navigations with the active release and pins the new client; pinned clients keep their release', async () => {
    const { a, rt, r1 } = await installed();
    a.server.clear();
    const res = await rt.onFetch(nav(APP + 'settings', 'page-old'))!;
    expect(await res.text()).toBe(V1['index.html']);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');

    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    a.server.clear();

    const old = await rt.onFetch(sub(APP + 'assets/app-1.js', 'page-old'))!;
    expect(await old.text()).toBe(V1['assets/app-1.js']);
    const fresh = await rt.onFetch(nav(APP, 'page-new'))!;
    expect(await fresh.text()).toBe(V2['index.html']);
    const chunk = await rt.onFetch(sub(APP + 'assets/app-2.js', 'page-new'))!;
    expect(await chunk.text()).toBe(V2['assets/app-2.js']);
    expect(chunk.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
    expect((await rt.onMessage({ type: 'updraft:hello' }, 'page-old')) as SwReply<HelloReply>).toEqual({
      ok: true, value: { release: r1.manifest.id, version: '1.0.0', active: r2.manifest.id, staged: null, pending: null, nextCheckInAt: expect.any(Number) },
    });
  });

  it('a navigation the network answers is pinned all the same, to the release active then: after an activation its subresources still come from that release', async () => {
    const { a, rt, r1 } = await installed();
    const entry = r1.manifest.assets.find((x) => x.path === 'index.html')!;
    a.server.on(APP + 'report.pdf', new Response('%PDF from network'));
    a.server.on(APP + 'page.html', new Response('<h1>page from network</h1>'));
    // A file the release lacks, dotted paths both.
    expect(await (await rt.onFetch(nav(APP + 'report.pdf', 'page-pdf'))!).text()).toBe('%PDF from network');
    expect(await (await rt.onFetch(nav(APP + 'page.html', 'page-html'))!).text()).toBe('<h1>page from network</h1>');
    // The entry's part lost from the cache, and its refetch by hash failing: the network answers the document.
    a.cache.entries.delete(partKey(APP, entry.sha256));
    a.server.on(origin(entry.sha256), new Response('unavailable', { status: 503 }));
    a.server.on(APP + 'settings', new Response('<h1>entry from network</h1>'));
    expect(await (await rt.onFetch(nav(APP + 'settings', 'page-lost'))!).text()).toBe('<h1>entry from network</h1>');
    expect((await state(rt)).pins.filter((p) => p.clientId.startsWith('page-')).sort((x, y) => x.clientId.localeCompare(y.clientId))).toEqual([
      { clientId: 'page-html', release: r1.manifest.id, network: true },
      { clientId: 'page-lost', release: r1.manifest.id, network: true },
      { clientId: 'page-pdf', release: r1.manifest.id, network: true },
    ]);

    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    a.server.clear();
    // v1's chunk, which v2 lacks, from the cache; and v1's bytes where v2 has others at the same path.
    for (const page of ['page-pdf', 'page-html', 'page-lost']) {
      expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', page))!).text(), page).toBe(V1['assets/app-1.js']);
    }
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
    // A navigation now is pinned to v2, answered by the network or not.
    a.server.on(APP + 'report.pdf', new Response('%PDF from network'));
    await rt.onFetch(nav(APP + 'report.pdf', 'page-pdf-2'));
    expect((await state(rt)).pins.find((p) => p.clientId === 'page-pdf-2')?.release).toBe(r2.manifest.id);
  });

  it('a page whose navigation named no resulting client is pinned at its first request, to the release active then', async () => {
    const { a, rt, r1 } = await installed();
    // Browsers without FetchEvent.resultingClientId hand over '' (and some navigations do in any browser).
    expect(await (await rt.onFetch(nav(APP, ''))!).text()).toBe(V1['index.html']);
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'page-anon'))!).text()).toBe(V1['assets/app-1.js']);
    expect((await state(rt)).pins.find((p) => p.clientId === 'page-anon')?.release).toBe(r1.manifest.id);

    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    a.server.clear();
    // Its lazy chunk, which v2 lacks, still from v1: the page does not mix releases.
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'page-anon'))!).text()).toBe(V1['assets/app-1.js']);
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
    // A client first seen now gets v2, and keeps it.
    expect(await (await rt.onFetch(sub(APP + 'assets/app-2.js', 'page-anon-2'))!).text()).toBe(V2['assets/app-2.js']);
    expect((await state(rt)).pins.find((p) => p.clientId === 'page-anon-2')?.release).toBe(r2.manifest.id);
    // A request without a client id (none to pin) gets the active release and pins nothing.
    expect(await (await rt.onFetch(sub(APP + 'assets/app-2.js', ''))!).text()).toBe(V2['assets/app-2.js']);
    expect((await state(rt)).pins.some((p) => p.clientId === '')).toBe(false);
  });

  it('an iframe navigated again after an activation stays on its page\'s release; a new iframe (its navigation names no client) gets the active one', async () => {
    const { a, rt, r1 } = await installed();
    const frameNav = (url: string, clientId: string, resultingClientId: string) => {
      const request = navigation(url);
      Object.defineProperty(request, 'destination', { value: 'iframe' });
      return { request, clientId, resultingClientId };
    };
    await rt.onFetch(nav(APP, 'page-v1'));
    // The page opens an iframe on v1: a first navigation names no client (as Chromium sends it).
    expect(await (await rt.onFetch(frameNav(APP + '?frame', '', 'frame-doc-1'))!).text()).toBe(V1['index.html']);

    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    a.server.clear();
    // The iframe navigates (a link in it, or the page sets its src): Chromium names the document
    // the frame held. Its new document and that one's subresources are v1's, from the cache.
    expect(await (await rt.onFetch(frameNav(APP + '?again', 'frame-doc-1', 'frame-doc-2'))!).text()).toBe(V1['index.html']);
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'frame-doc-2'))!).text()).toBe(V1['assets/app-1.js']);
    expect((await state(rt)).pins.find((p) => p.clientId === 'frame-doc-2')?.release).toBe(r1.manifest.id);
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
    // A top-level navigation that names the document it replaces (a reload) moves to the active release.
    expect(await (await rt.onFetch({ request: navigation(APP), clientId: 'page-v1', resultingClientId: 'page-v2' })!).text()).toBe(V2['index.html']);
    // A new iframe names no client: the active release (the sharp edge README describes).
    expect(await (await rt.onFetch(frameNav(APP + '?new', '', 'frame-doc-3'))!).text()).toBe(V2['index.html']);
  });

  it('a worker a page starts runs the page\'s release after a newer one activates, and its pin lives while the worker does', async () => {
    const { a, rt, r1 } = await installed();
    await rt.onFetch(nav(APP, 'page-v1'));
    // The page starts a dedicated worker: its script's request names the new client.
    const script = new Request(APP + 'assets/app-1.js');
    Object.defineProperty(script, 'destination', { value: 'worker' });
    expect(await (await rt.onFetch({ request: script, clientId: 'page-v1', resultingClientId: 'worker-1' }))!.text()).toBe(V1['assets/app-1.js']);
    a.clients.push({ id: 'page-v1', url: APP });
    a.workers.push('worker-1');

    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    a.server.clear();
    // The worker's own requests get v1, as its page's do (app-1.js is not in v2 at all).
    expect(await (await rt.onFetch(sub(APP + 'index.html', 'worker-1'))!).text()).toBe(V1['index.html']);
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'worker-1'))!).text()).toBe(V1['assets/app-1.js']);
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
    // Garbage collection keeps its pin while the worker lives, past the grace a new pin gets.
    a.clock.advance(PIN_GRACE_MS * 2);
    await collectGarbage(await rt.ready());
    expect((await state(rt)).pins.filter((p) => p.release === r1.manifest.id).map((p) => p.clientId).sort()).toEqual(['page-v1', 'window-1', 'worker-1']);
    // The page closes; its worker goes with it (their pins once gone longer than a back-forward cache keeps a page).
    a.workers.length = 0;
    a.clients.splice(a.clients.findIndex((c) => c.id === 'page-v1'), 1);
    await collectGarbage(await rt.ready());
    a.clock.advance(ABSENT_GRACE_MS + 1);
    await collectGarbage(await rt.ready());
    expect((await state(rt)).pins.map((p) => p.clientId)).toEqual(['window-1']);
  });

  it('answers with the stored part itself when it was stored for the asset\'s type, and wraps it in the asset\'s type otherwise', async () => {
    // The same bytes at two paths of two types are one part, stored with the first one's type.
    const { a, rt, r1 } = await installedRuntime({ 'index.html': '<h1>v1</h1>', 'same.css': 'same bytes', 'same.js': 'same bytes', 'app.js': 'console.log(1)' }, config);
    const matched = recordMatches(a);
    await rt.onFetch(nav(APP, 'page'))!;
    const asset = (path: string) => r1.manifest.assets.find((x) => x.path === path)!;
    const served = async (path: string) => {
      const res = await rt.onFetch(sub(APP + path, 'page'))!;
      return { res, direct: matched.includes(res), type: res.headers.get('content-type'), sha: res.headers.get('x-updraft-sha256'), length: res.headers.get('content-length'), text: await res.clone().text() };
    };
    expect(await served('app.js')).toMatchObject({ direct: true, type: 'text/javascript; charset=utf-8', sha: asset('app.js').sha256, text: 'console.log(1)' });
    const [css, js] = [await served('same.css'), await served('same.js')];
    expect([css.type, js.type]).toEqual(['text/css; charset=utf-8', 'text/javascript; charset=utf-8']);
    expect([css.text, js.text]).toEqual(['same bytes', 'same bytes']);
    expect([css.length, js.length]).toEqual(['10', '10']);
    expect([css.direct, js.direct].sort()).toEqual([false, true]);
    // A part stored before parts had types (octet-stream, no hash header): wrapped, as before.
    const key = partKey(APP, asset('app.js').sha256);
    await a.cache.put(key, new Response(new TextEncoder().encode('console.log(1)'), { headers: { 'content-type': 'application/octet-stream' } }));
    expect(await served('app.js')).toMatchObject({ direct: false, type: 'text/javascript; charset=utf-8', sha: asset('app.js').sha256, length: '14', text: 'console.log(1)' });
  });

  it('a part stored before text types carried their charset is answered with it, and stored again so, to be answered directly from then on', async () => {
    const { a, rt, r1 } = await installedRuntime({ 'index.html': '<h1>v1</h1>', 'app.js': 'console.log(1)' }, config);
    const asset = r1.manifest.assets.find((x) => x.path === 'app.js')!;
    const key = partKey(APP, asset.sha256);
    // As an earlier worker stored it: the manifest's type, no charset.
    await a.cache.put(key, new Response(new TextEncoder().encode('console.log(1)'), { headers: { 'content-type': 'text/javascript', 'x-updraft-sha256': asset.sha256 } }));
    const matched = recordMatches(a);
    const first = await rt.onFetch(sub(APP + 'app.js', 'page'))!;
    expect([first.headers.get('content-type'), matched.includes(first), await first.text()]).toEqual(['text/javascript; charset=utf-8', false, 'console.log(1)']);
    await until(async () => (await a.cache.match(key))?.headers.get('content-type') === 'text/javascript; charset=utf-8', 'the part to be stored again');
    const next = await rt.onFetch(sub(APP + 'app.js', 'page'))!;
    expect([next.headers.get('content-type'), next.headers.get('content-length'), matched.includes(next), await next.text()]).toEqual(['text/javascript; charset=utf-8', '14', true, 'console.log(1)']);
  });

  it('passes excluded and unknown paths to the network', async () => {
    const { a, rt } = await installed();
    expect(rt.onFetch(sub(APP + 'v1/blobs/' + 'a'.repeat(64), 'c'))).toBeNull();
    expect(rt.onFetch(sub(APP + 'sw.js', 'c'))).toBeNull();
    expect(rt.onFetch(sub(APP + 'updraft-release.json', 'c'))).toBeNull();
    expect(rt.onFetch({ request: new Request(APP + 'x', { method: 'POST' }), clientId: 'c', resultingClientId: '' })).toBeNull();
    a.server.on(APP + 'api/data.json', json({ live: true }));
    const res = await rt.onFetch(sub(APP + 'api/data.json', 'c'))!;
    expect(await res.json()).toEqual({ live: true });
  });

  it('lets an only-if-cached request of a mode other than same-origin go untouched (DevTools\' kind): fetch() would throw on it', async () => {
    const { a, rt } = await installed();
    a.server.on(APP + 'api/data.json', json({ live: true }));
    a.server.clear();
    // Request's constructor refuses this pair, as fetch() does when handed it: build it as the browser hands it over.
    const devtools = (url: string, mode: string) => {
      const req = new Request(url);
      Object.defineProperties(req, { cache: { value: 'only-if-cached' }, mode: { value: mode } });
      return { request: req, clientId: 'window-1', resultingClientId: '' };
    };
    for (const path of ['assets/app-1.js', 'api/data.json', '__updraft/state']) {
      expect(rt.onFetch(devtools(APP + path, 'no-cors')), path).toBeNull();
      expect(rt.onFetch(devtools(APP + path, 'cors')), path).toBeNull();
    }
    // Same-origin mode is a request fetch() accepts: answered as any other.
    expect(await (await rt.onFetch(devtools(APP + 'assets/app-1.js', 'same-origin'))!).text()).toBe(V1['assets/app-1.js']);
    expect(a.server.requests).toEqual([]);
  });

  it('refetches a lost part by hash from the server, and falls back to the network when that fails', async () => {
    const { a, rt, r1 } = await installed();
    const asset = r1.manifest.assets.find((x) => x.path === 'assets/app-1.js')!;
    a.cache.entries.delete(partKey(APP, asset.sha256));
    a.server.on(origin(asset.sha256), new Response(V1['assets/app-1.js']));
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'c'))!).text()).toBe(V1['assets/app-1.js']);
    expect(a.cache.entries.has(partKey(APP, asset.sha256))).toBe(true);

    a.cache.entries.delete(partKey(APP, asset.sha256));
    a.server.on(origin(asset.sha256), new Response('tampered'));
    a.server.on(APP + 'assets/app-1.js', new Response('from network'));
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'c'))!).text()).toBe('from network');
  });

  it('a refetch whose part stalls after its headers gives up at the deadline and falls back to the network', async () => {
    const { a, rt, r1 } = await installed();
    const asset = r1.manifest.assets.find((x) => x.path === 'assets/app-1.js')!;
    a.cache.entries.delete(partKey(APP, asset.sha256));
    a.server.on(origin(asset.sha256), () => stalledAfterHeaders('console.'));
    a.server.on(APP + 'assets/app-1.js', new Response('from network'));
    const answer = rt.onFetch(sub(APP + 'assets/app-1.js', 'c'))!;
    await until(() => a.server.count(origin(asset.sha256)) === 1, 'the refetch to go out');
    a.clock.advance(REFETCH_TIMEOUT_MS);
    expect(await (await answer).text()).toBe('from network');
    expect(a.cache.entries.has(partKey(APP, asset.sha256))).toBe(false);
  });

  it('a request the network fallback fails is sent once, not again by the fallback for errors: offline it fails once, at once', async () => {
    const { a, rt, r1 } = await installed();
    const asset = r1.manifest.assets.find((x) => x.path === 'assets/app-1.js')!;
    a.cache.entries.delete(partKey(APP, asset.sha256));
    a.server.on(origin(asset.sha256), new TypeError('Failed to fetch'));
    a.server.on(APP + 'assets/app-1.js', new TypeError('Failed to fetch'));
    a.server.on(APP + 'report.pdf', new TypeError('Failed to fetch'));
    a.server.clear();
    await expect(rt.onFetch(sub(APP + 'assets/app-1.js', 'c'))!).rejects.toThrow('Failed to fetch');
    await expect(rt.onFetch(nav(APP + 'report.pdf', 'page'))!).rejects.toThrow('Failed to fetch');
    expect([a.server.count(APP + 'assets/app-1.js'), a.server.count(APP + 'report.pdf')]).toEqual([1, 1]);
  });

  it('any exception while serving falls back to the network', async () => {
    const { a, rt } = await installed();
    a.cache.match = async () => {
      throw new Error('cache broke');
    };
    a.server.on(APP + 'assets/app-1.js', new Response('network copy'));
    expect(await (await rt.onFetch(sub(APP + 'assets/app-1.js', 'c'))!).text()).toBe('network copy');
    expect((await rt.state()).log.some((l) => l.includes('cache broke'))).toBe(true);
  });

  it('serves the debug state as text and JSON', async () => {
    const { rt, r1 } = await installed();
    const text = await (await rt.onFetch(sub(APP + '__updraft/state', 'c'))!).text();
    expect(text).toContain(`active: ${r1.manifest.id}`);
    expect(text).toContain('log:');
    const st = (await (await rt.onFetch(sub(APP + '__updraft/state.json', 'c'))!).json()) as SwDebugState;
    expect(st.active).toBe(r1.manifest.id);
    expect(st.log.length).toBeGreaterThan(0);
  });
});

describe('gc', () => {
  it('keeps the parts of releases pinned by live windows, drops them once the window is gone', async () => {
    const { a, rt, r1 } = await installed();
    await rt.onFetch({ request: navigation(APP), clientId: '', resultingClientId: 'page-v1' });
    a.clients.push({ id: 'page-v1', url: APP });
    const r2 = await buildRelease(V2);
    const r3 = await buildRelease(V3);
    serveBlobs(a, r2);
    serveBlobs(a, r3);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    a.clock.advance(3_600_000);
    offer(a, buildPlan(r3));
    await checkNow(rt);
    let s = await state(rt);
    expect(s.active).toBe(r3.manifest.id); // previous is v2: v1 survives only through the pin
    const v1only = partKey(APP, r1.manifest.assets.find((x) => x.path === 'assets/app-1.js')!.sha256);
    expect(a.cache.entries.has(v1only)).toBe(true);
    expect(s.releases).toContain(r1.manifest.id);

    // Both v1 windows close (window-1 was pinned when the installing worker claimed it). The first
    // collection cannot tell them from pages in the back-forward cache: it keeps their pins.
    a.clients.length = 0;
    await rt.onStart();
    expect(a.cache.entries.has(v1only)).toBe(true);
    a.clock.advance(ABSENT_GRACE_MS + 1);
    await rt.onStart();
    s = await state(rt);
    expect(a.cache.entries.has(v1only)).toBe(false);
    expect(s.releases.sort()).toEqual([r2.manifest.id, r3.manifest.id].sort());
    expect(s.pins).toEqual([]);
  });

  it('a page in the back-forward cache (not listed by clients.matchAll) keeps its pin: restored on Back, it still gets its release', async () => {
    const { a, rt, r1 } = await installed();
    await rt.onFetch({ request: navigation(APP), clientId: '', resultingClientId: 'page-v1' });
    a.clients.push({ id: 'page-v1', url: APP });
    a.clock.advance(3_600_000);
    // The user follows a link to another site: Chromium keeps the page in its back-forward cache,
    // and clients.matchAll lists it no more (Chromium 150, e2e/routing.spec.ts).
    a.clients.splice(a.clients.findIndex((c) => c.id === 'page-v1'), 1);
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    await rt.onStart();
    // Back, within the time a browser keeps such a page: restored as it was, its requests go on.
    a.clock.advance(ABSENT_GRACE_MS - 1);
    await rt.onStart();
    a.clients.push({ id: 'page-v1', url: APP });
    await answeredFromCache(a, rt, { request: new Request(APP + 'index.html'), clientId: 'page-v1', resultingClientId: '' }, V1['index.html']);
    expect((await state(rt)).pins.find((p) => p.clientId === 'page-v1')?.release).toBe(r1.manifest.id);
  });

  it('a pin goes once its client has been absent longer than a back-forward cache keeps a page, counted from the first collection that missed it', async () => {
    const { a, rt } = await installed();
    await rt.onFetch({ request: navigation(APP), clientId: '', resultingClientId: 'page-v1' });
    a.clients.push({ id: 'page-v1', url: APP });
    a.clock.advance(3_600_000);
    await rt.onStart();
    a.clients.length = 0;
    await rt.onStart();
    a.clock.advance(ABSENT_GRACE_MS);
    await rt.onStart();
    expect((await state(rt)).pins.map((p) => p.clientId)).toContain('page-v1');
    // Seen again meanwhile: the count starts over.
    a.clients.push({ id: 'page-v1', url: APP });
    await rt.onStart();
    a.clients.length = 0;
    a.clock.advance(1);
    await rt.onStart();
    a.clock.advance(ABSENT_GRACE_MS);
    await rt.onStart();
    expect((await state(rt)).pins.map((p) => p.clientId)).toContain('page-v1');
    a.clock.advance(1);
    await rt.onStart();
    expect((await state(rt)).pins.map((p) => p.clientId)).not.toContain('page-v1');
  });

  /** The parts cache's keys for the parts of `releases`, sorted. */
  const partsOf = (...releases: BuiltRelease[]) => [...new Set(releases.flatMap((r) => [...r.blobs.keys()]))].map((sha) => partKey(APP, sha)).sort();
  const partOf = (r: BuiltRelease, path: string) => partKey(APP, r.manifest.assets.find((x) => x.path === path)!.sha256);

  /** `input` is answered with `text`, and no server but the reports endpoint is asked: the cache answered. */
  async function answeredFromCache(a: TestAdapter, rt: Runtime, input: FetchInput, text: string) {
    a.server.clear();
    const res = await rt.onFetch(input);
    expect(await res!.text()).toBe(text);
    expect(a.server.requests.filter((r) => r.url !== REPORTS)).toEqual([]);
  }

  /**
   * The first call of `object[method]` from now on starts only at `release()` (a read or a write
   * queued behind others); later calls go through at once. `calls()` counts them; `first` holds the
   * first call's arguments.
   */
  function holdFirstCall<T extends object, K extends keyof T>(object: T, method: K) {
    const original = (object[method] as (...args: unknown[]) => Promise<unknown>).bind(object);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const first: unknown[] = [];
    object[method] = ((...args: unknown[]) => (++calls === 1 ? (first.push(...args), held.then(() => original(...args))) : original(...args))) as T[K];
    return { calls: () => calls, first, release: () => release() };
  }

  /** The worker starts (its start collects); while `held`'s call waits, `plan` is accepted and staged. */
  async function stagedWhileHeld(a: TestAdapter, rt: Runtime, held: ReturnType<typeof holdFirstCall>, plan: Plan) {
    const start = rt.onStart();
    await until(() => held.calls() === 1, 'the collection to make the held call');
    offer(a, plan);
    await checkNow(rt);
    expect((await state(rt)).staged).toBe(plan.to);
    held.release();
    await start;
  }

  it('a staged release a newer one supersedes is collected as soon as the newer one is staged: its record and the parts only it has go, shared parts stay, and apply() gets the newer one', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serveBlobs(a, r2);
    serveBlobs(a, r3);
    offer(a, buildPlan(r2, { activation: 'prompt' }));
    await checkNow(rt);
    expect((await state(rt)).staged).toBe(r2.manifest.id);
    expect(a.events('update-ready').map((e) => e.release)).toEqual([r2.manifest.id]);
    // 3.0.0 comes before the user applied 2.0.0, its downloads booked an hour ahead. Until it is
    // staged, 2.0.0 stays: the new plan may still fail.
    offer(a, buildPlan(r3, { activation: 'prompt', notBefore: (_, issued) => issued + 3_600_000 }));
    await checkNow(rt);
    let s = await state(rt);
    expect([s.staged, s.plan?.to]).toEqual([r2.manifest.id, r3.manifest.id]);
    expect(s.releases).toContain(r2.manifest.id);
    expect(a.cache.entries.has(partOf(r2, 'assets/extra.js'))).toBe(true);

    a.clock.advance(3_600_000);
    await (await rt.runner()).run();
    s = await state(rt);
    expect([s.active, s.staged]).toEqual([r1.manifest.id, r3.manifest.id]);
    // Before any apply: 2.0.0's record and its own parts (its page, extra.js) are gone; app-2.js,
    // which 3.0.0 shares, and shared.css, which the active release shares, stay.
    expect(s.releases.sort()).toEqual([r1.manifest.id, r3.manifest.id].sort());
    expect([...a.cache.entries.keys()].sort()).toEqual(partsOf(r1, r3));
    expect(a.cache.entries.has(partOf(r2, 'index.html'))).toBe(false);
    expect(a.cache.entries.has(partOf(r2, 'assets/extra.js'))).toBe(false);
    expect(a.cache.entries.has(partOf(r2, 'assets/app-2.js'))).toBe(true);
    expect(a.cache.entries.has(partOf(r2, 'assets/shared.css'))).toBe(true);
    expect((await rt.hello('window-1')).pending).toMatchObject({ release: r3.manifest.id });
    // The page still showing 2.0.0's prompt applies: it gets 3.0.0.
    expect(await rt.onMessage({ type: 'updraft:apply' }, 'window-1')).toEqual({ ok: true, value: { release: r3.manifest.id } });
    expect(a.events('activated').map((e) => e.release)).toEqual([r3.manifest.id]);
    // The page that applied still runs 1.0.0's bytes (its pin, and `previous`).
    expect((await state(rt)).releases.sort()).toEqual([r1.manifest.id, r3.manifest.id].sort());
  });

  it('collecting a superseded staged release keeps what a live page is pinned to, the previous and the active release', async () => {
    const { a, rt, r1 } = await installed();
    await rt.onFetch({ request: navigation(APP), clientId: '', resultingClientId: 'page-v1' });
    a.clients.push({ id: 'page-v1', url: APP });
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    const r4 = await buildRelease({ 'index.html': '<h1>v4</h1>', 'assets/v3.js': 'three', 'assets/v4.js': 'four' }, '4.0.0');
    const r5 = await buildRelease({ 'index.html': '<h1>v5</h1>', 'assets/v3.js': 'three', 'assets/v5.js': 'five' }, '5.0.0');
    for (const r of [r2, r3, r4, r5]) serveBlobs(a, r);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    offer(a, buildPlan(r3));
    await checkNow(rt);
    // 1.0.0 lives on only through the open pages pinned to it: 3.0.0 is active, 2.0.0 previous.
    expect((await state(rt)).active).toBe(r3.manifest.id);
    offer(a, buildPlan(r4, { activation: 'prompt' }));
    await checkNow(rt);
    expect((await state(rt)).staged).toBe(r4.manifest.id);
    a.clock.advance(PIN_GRACE_MS * 2);
    offer(a, buildPlan(r5, { activation: 'prompt' }));
    await checkNow(rt);
    const s = await state(rt);
    expect([s.active, s.staged, (await a.db.pointers()).previous]).toEqual([r3.manifest.id, r5.manifest.id, r2.manifest.id]);
    expect(s.releases.sort()).toEqual([r1, r2, r3, r5].map((r) => r.manifest.id).sort());
    // 4.0.0's own parts went; v3.js, which 3.0.0 and 5.0.0 share with it, stayed.
    expect([...a.cache.entries.keys()].sort()).toEqual(partsOf(r1, r2, r3, r5));
    expect(a.cache.entries.has(partOf(r4, 'assets/v4.js'))).toBe(false);
    // The page pinned to 1.0.0 still gets its bytes from the cache.
    await answeredFromCache(a, rt, { request: new Request(APP + 'assets/app-1.js'), clientId: 'page-v1', resultingClientId: '' }, V1['assets/app-1.js']);
  });

  it('a worker killed while it collects the superseded staged release: the next worker\'s start finishes the collection, and apply() activates the newer release', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serveBlobs(a, r2);
    serveBlobs(a, r3);
    offer(a, buildPlan(r2, { activation: 'prompt' }));
    await checkNow(rt);
    // The worker dies in the middle of the collection: one part deleted, the next delete never returns.
    const remove = a.cache.delete.bind(a.cache);
    let deletes = 0;
    a.cache.delete = (key: string) => (++deletes === 1 ? remove(key) : new Promise<boolean>(() => {}));
    offer(a, buildPlan(r3, { activation: 'prompt' }));
    await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
    void (await rt.runner()).run();
    await until(() => deletes === 2, 'the collection at staging');
    let s = await state(rt);
    expect(s.staged).toBe(r3.manifest.id);
    expect(s.releases).toContain(r2.manifest.id);

    a.cache.delete = remove;
    const b = a.restart();
    const rt2 = new Runtime(b, config);
    await rt2.onStart();
    s = await state(rt2);
    expect([s.active, s.staged]).toEqual([r1.manifest.id, r3.manifest.id]);
    expect(s.releases.sort()).toEqual([r1.manifest.id, r3.manifest.id].sort());
    expect([...b.cache.entries.keys()].sort()).toEqual(partsOf(r1, r3));
    // The install the kill left running is done again (idempotent), then the user applies: 3.0.0.
    await (await rt2.runner()).run();
    expect(await rt2.onMessage({ type: 'updraft:apply' }, 'window-1')).toEqual({ ok: true, value: { release: r3.manifest.id } });
    expect((await state(rt2)).active).toBe(r3.manifest.id);
  });

  it('a plan accepted, downloaded and staged while a collection waits for the parts cache\'s listing keeps its parts and its release record', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    // The worker's start collects; its listing of the parts cache is made only after the plan below
    // is staged, and lists its parts too (a listing queued behind their writes).
    await stagedWhileHeld(a, rt, holdFirstCall(a.cache, 'keys'), buildPlan(r2, { activation: 'prompt' }));
    const s = await state(rt);
    expect([s.active, s.staged]).toEqual([r1.manifest.id, r2.manifest.id]);
    expect(s.releases.sort()).toEqual([r1.manifest.id, r2.manifest.id].sort());
    expect([...a.cache.entries.keys()].sort()).toEqual(partsOf(r1, r2));
    // Applied, 2.0.0 is served from the cache: nothing is downloaded again.
    expect(await rt.onMessage({ type: 'updraft:apply' }, 'window-1')).toEqual({ ok: true, value: { release: r2.manifest.id } });
    await answeredFromCache(a, rt, { request: navigation(APP), clientId: '', resultingClientId: 'page-v2' }, V2['index.html']);
  });

  it('a part a collection is about to delete, which a plan accepted meanwhile finds in the cache, stays: the staged release is whole and the part is not downloaded', async () => {
    const { a, rt, r1 } = await installed();
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    // 4.0.0 brings back 1.0.0's script.
    const r4 = await buildRelease({ 'index.html': '<h1>v4</h1>', 'assets/app-1.js': V1['assets/app-1.js'], 'assets/v4.js': 'four' }, '4.0.0');
    for (const r of [r2, r3, r4]) serveBlobs(a, r);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    offer(a, buildPlan(r3));
    await checkNow(rt);
    // 1.0.0 lives on only through window-1's pin (3.0.0 active, 2.0.0 previous); the window closes.
    expect((await state(rt)).active).toBe(r3.manifest.id);
    a.clients.length = 0;
    a.clock.advance(PIN_GRACE_MS * 2);
    // A collection finds the window gone; the next one past the absence grace drops its pin.
    await collectGarbage(await rt.ready());
    a.clock.advance(ABSENT_GRACE_MS + 1);
    const app1 = partOf(r1, 'assets/app-1.js');
    a.server.clear();
    // The worker's start collects 1.0.0's own parts, its page first (the cache lists in insertion
    // order); that delete is made only after 4.0.0 is staged, which finds app-1.js in the cache.
    const deletes = holdFirstCall(a.cache, 'delete');
    await stagedWhileHeld(a, rt, deletes, buildPlan(r4, { activation: 'prompt' }));
    expect(deletes.first).toEqual([partOf(r1, 'index.html')]);
    const s = await state(rt);
    expect([s.active, s.staged]).toEqual([r3.manifest.id, r4.manifest.id]);
    expect(s.releases.sort()).toEqual([r2, r3, r4].map((r) => r.manifest.id).sort());
    expect([...a.cache.entries.keys()].sort()).toEqual(partsOf(r2, r3, r4));
    // The plan found app-1.js held: it was never downloaded, and must not have to be.
    expect(a.server.urls().filter((u) => u.endsWith(app1.split('/').pop()!))).toEqual([]);
  });

  it('a release staged and activated while a collection reads the plan, which the server then withdraws, stays: its parts and record are the active release\'s', async () => {
    const { a, rt, r1 } = await installed();
    // Accepted before the collection starts.
    const r2 = await pendingPlan(a, rt);
    expect((await state(rt)).plan?.to).toBe(r2.manifest.id);
    // The collection's read of the plan is made only after the plan ran to its end and was dropped.
    const read = holdFirstCall(a.db, 'getPlan');
    const start = rt.onStart();
    await until(() => read.calls() === 1, 'the collection to read the plan');
    a.clock.advance(3_600_000);
    await (await rt.runner()).run();
    expect((await state(rt)).active).toBe(r2.manifest.id);
    // The server paused the channel after 2.0.0 was installed here: the plan goes, 2.0.0 stays active.
    a.server.on(CHECK_IN, json({ status: 'current', nextCheckIn: 3600, drop: true }));
    await checkNow(rt);
    expect((await state(rt)).plan).toBeNull();
    read.release();
    await start;
    const s = await state(rt);
    expect([s.active, s.staged]).toEqual([r2.manifest.id, null]);
    expect(s.releases.sort()).toEqual([r1.manifest.id, r2.manifest.id].sort());
    expect([...a.cache.entries.keys()].sort()).toEqual(partsOf(r1, r2));
    await answeredFromCache(a, rt, { request: navigation(APP), clientId: '', resultingClientId: 'page-v2' }, V2['index.html']);
  });
});

describe('messages', () => {
  it('answers state and refuses unknown types', async () => {
    const { rt, r1 } = await installed();
    const st = (await rt.onMessage({ type: 'updraft:state' }, null)) as SwReply<SwDebugState>;
    expect(st.ok && st.value.active).toBe(r1.manifest.id);
    expect(await rt.onMessage({ type: 'nope' }, null)).toMatchObject({ ok: false, code: 'bad_request' });
  });

  it('updraft:wake runs due tasks (no Background Sync)', async () => {
    const a = new TestAdapter({ sync: false });
    const { rt } = await installed(a);
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2, { notBefore: (_, issued) => issued + 60_000 }));
    await checkNow(rt);
    expect(a.syncTags).toEqual([]);
    const wakeAt = a.events('wake-at')[0]?.at as number;
    expect(wakeAt).toBe(a.clock.now() + 60_000);
    a.clock.t = wakeAt; // the page's nudge, not the worker's timer
    await rt.onMessage({ type: 'updraft:wake' }, 'window-1');
    expect((await state(rt)).active).toBe(r2.manifest.id);
  });
});

describe('outbox', () => {
  it('flushes one at a time: reports are never sent twice', async () => {
    const { a, rt, r1 } = await installed();
    const ctx = await rt.ready();
    await ctx.store.addReports([{ client: ctx.clientId, app: 'demo', release: r1.manifest.id, event: 'downloaded', at: 1 }]);
    a.server.clear();
    await Promise.all([flushOutbox(ctx), flushOutbox(ctx), rt.wake('test')]);
    expect(reportsSent(a).map((r) => r.at)).toEqual([1]);
  });
});

describe('readiness', () => {
  const nav = (url: string, resultingClientId: string) => ({ request: navigation(url), clientId: '', resultingClientId });
  const ready = async (rt: Runtime, clientId: string) => {
    const reply = (await rt.onMessage({ type: 'updraft:ready' }, clientId)) as SwReply<ReadyReply>;
    if (!reply.ok) throw new Error(reply.message);
    return reply.value;
  };
  const BOOT = config.bootTimeoutMs;

  /** v1 installed, its page has called ready() once (so activations are watched), v2 activated. */
  async function activatedV2(a = new TestAdapter()) {
    const { rt, r1 } = await installed(a);
    expect(await ready(rt, 'window-1')).toEqual({ release: r1.manifest.id, result: 'none-pending' });
    const r2 = await buildRelease(V2, '2.0.0');
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).active).toBe(r2.manifest.id);
    return { a, rt, r1, r2 };
  }

  it('without any ready() call from this app, activations are not watched and never rolled back', async () => {
    const { a, rt } = await installed();
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(rt);
    expect((await state(rt)).boot).toBeNull();
    await rt.onFetch(nav(APP, 'page-v2'));
    a.clock.advance(BOOT * 10);
    await rt.wake('test');
    expect((await state(rt)).active).toBe(r2.manifest.id);
  });

  it('the clock starts at the first navigation the new release serves, not at activation; a page it served confirms it', async () => {
    const { a, rt, r1, r2 } = await activatedV2();
    expect((await state(rt)).boot).toEqual({ release: r2.manifest.id, previous: r1.manifest.id, deadline: null });
    // Days without opening the app: nothing happens.
    a.clock.advance(3 * 24 * 3600_000);
    await rt.wake('test');
    expect((await state(rt)).active).toBe(r2.manifest.id);

    const t0 = a.clock.now();
    await rt.onFetch(nav(APP, 'page-v2'));
    expect((await state(rt)).boot?.deadline).toBe(t0 + BOOT);
    a.clock.advance(1000);
    await rt.onFetch(nav(APP, 'page-v2b')); // a second page does not move the deadline
    expect((await state(rt)).boot?.deadline).toBe(t0 + BOOT);

    expect(await ready(rt, 'page-v2')).toEqual({ release: r2.manifest.id, result: 'confirmed' });
    expect(await ready(rt, 'page-v2b')).toEqual({ release: r2.manifest.id, result: 'none-pending' });
    expect((await state(rt)).boot).toBeNull();
    expect(a.clock.pendingTimers().filter((t) => t === t0 + BOOT)).toEqual([]);
    a.clock.advance(BOOT * 2);
    await rt.idle();
    await rt.wake('test');
    const s = await state(rt);
    expect(s.active).toBe(r2.manifest.id);
    expect(s.bad).toEqual([]);
    expect(reportsSent(a).map((r) => r.event)).not.toContain('boot-failed');
  });

  it('a page pinned to the watched release whose document the network answered does not confirm it, across a restart; a page the release served does', async () => {
    const { a, rt, r1, r2 } = await activatedV2();
    // v2's entry part lost and its refetch failing: the network answers the navigation.
    const entry = r2.manifest.assets.find((x) => x.path === 'index.html')!;
    a.cache.entries.delete(partKey(APP, entry.sha256));
    a.server.on(origin(entry.sha256), new Response('unavailable', { status: 503 }));
    a.server.on(APP, new Response('<h1>whatever the network has</h1>'));
    expect(await (await rt.onFetch(nav(APP, 'page-net'))!).text()).toBe('<h1>whatever the network has</h1>');
    // Pinned all the same (its subresources come from v2), and marked as answered by the network.
    expect((await state(rt)).pins.find((p) => p.clientId === 'page-net')).toEqual({ clientId: 'page-net', release: r2.manifest.id, network: true });
    expect(await ready(rt, 'page-net')).toEqual({ release: r2.manifest.id, result: 'network' });
    expect((await state(rt)).boot).toEqual({ release: r2.manifest.id, previous: r1.manifest.id, deadline: null });
    // The mark is stored with the pin: a worker started later judges the page the same way.
    const later = new Runtime(a.restart(), config);
    expect(await ready(later, 'page-net')).toEqual({ release: r2.manifest.id, result: 'network' });
    expect((await state(later)).boot?.release).toBe(r2.manifest.id);

    // Once v2 can serve its entry again, a page it served confirms it.
    serveBlobs(a, r2);
    expect(await (await later.onFetch(nav(APP, 'page-v2'))!).text()).toBe(V2['index.html']);
    expect(await ready(later, 'page-v2')).toEqual({ release: r2.manifest.id, result: 'confirmed' });
    expect((await state(later)).boot).toBeNull();
  });

  it('ready() from a page on the old release does not count: at the deadline the worker rolls back, reports and broadcasts', async () => {
    const { a, rt, r1, r2 } = await activatedV2();
    await rt.onFetch(nav(APP, 'page-v2'));
    a.clients.push({ id: 'page-v2', url: APP });
    // window-1 was served by v1: its confirmation is judged by its pin, whatever it runs now.
    expect(await ready(rt, 'window-1')).toEqual({ release: r1.manifest.id, result: 'other-release' });
    expect(await ready(rt, 'never-navigated')).toEqual({ release: null, result: 'other-release' });

    a.clock.advance(BOOT - 1);
    await rt.idle();
    expect((await state(rt)).active).toBe(r2.manifest.id);
    a.clock.advance(1); // the worker's own timer fires
    await rt.idle();

    const s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(s.boot).toBeNull();
    expect(s.bad).toEqual([r2.manifest.id]);
    expect(s.plan?.to).toBe(r2.manifest.id);
    const failed = reportsSent(a).filter((r) => r.event === 'boot-failed');
    expect(failed).toEqual([
      expect.objectContaining({ release: r2.manifest.id, planId: `plan-${r2.manifest.id}`, code: 'boot_failed', at: a.clock.now() }),
    ]);
    expect(a.events('rolled-back')).toEqual([{ name: 'rolled-back', release: r2.manifest.id, version: '2.0.0', active: r1.manifest.id, code: 'boot_failed' }]);
    // The next navigation gets v1; the broken page keeps what it was served.
    expect(await (await rt.onFetch(nav(APP, 'page-after'))!).text()).toBe(V1['index.html']);
    const chunk = await rt.onFetch({ request: new Request(APP + 'assets/app-2.js'), clientId: 'page-v2', resultingClientId: '' });
    expect(await chunk!.text()).toBe(V2['assets/app-2.js']);
    // A late ready() from the broken page changes nothing.
    expect(await ready(rt, 'page-v2')).toEqual({ release: r2.manifest.id, result: 'none-pending' });
    expect((await state(rt)).active).toBe(r1.manifest.id);
  });

  it('the deadline survives a stopped worker: the next wake-up or navigation rolls back', async () => {
    for (const via of ['wake', 'navigation'] as const) {
      const { a, r1, r2 } = await activatedV2();
      const rt = new Runtime(a, config);
      await rt.onFetch(nav(APP, 'page-v2'));
      // The browser stops the worker: its timers die with it. A new one starts later on the same state.
      const later = new TestAdapter({ scope: a.scope, clock: new FakeClock(a.clock.now() + BOOT + 5000), fetch: a.server, store: a.db, parts: a.cache });
      const fresh = new Runtime(later, config);
      if (via === 'wake') {
        await fresh.onSync('updraft-tasks');
      } else {
        expect(await (await fresh.onFetch(nav(APP, 'page-next'))!).text()).toBe(V1['index.html']);
      }
      await fresh.idle();
      const s = await fresh.state();
      expect(s.active, via).toBe(r1.manifest.id);
      expect(s.bad, via).toEqual([r2.manifest.id]);
    }
  });

  it('a rolled-back release is not installed again; a different one is', async () => {
    const { a, rt, r1, r2 } = await activatedV2();
    await rt.onFetch(nav(APP, 'page-v2'));
    a.clock.advance(BOOT);
    await rt.idle();
    expect((await state(rt)).active).toBe(r1.manifest.id);

    a.server.clear();
    offer(a, buildPlan(r2, { planId: 'plan-again' }));
    expect(await checkNow(rt)).toEqual({ result: 'current' });
    expect((await state(rt)).plan?.planId).toBe(`plan-${r2.manifest.id}`);
    expect(a.server.urls().filter((u) => u.startsWith(CDN))).toEqual([]);

    const r3 = await buildRelease(V3, '3.0.0');
    serveBlobs(a, r3);
    offer(a, buildPlan(r3));
    expect(await checkNow(rt)).toEqual({ result: 'update', release: r3.manifest.id });
    const s = await state(rt);
    expect(s.active).toBe(r3.manifest.id);
    expect(s.boot).toEqual({ release: r3.manifest.id, previous: r1.manifest.id, deadline: null });
  });

  it('keeps the previous release until the new one is confirmed, and returns to the last confirmed one', async () => {
    const { a, rt, r1 } = await activatedV2();
    const v1only = partKey(APP, r1.manifest.assets.find((x) => x.path === 'assets/app-1.js')!.sha256);
    // v2 is never opened; v3 arrives over it. Every window is gone, so no pin holds v1.
    const r3 = await buildRelease(V3, '3.0.0');
    serveBlobs(a, r3);
    a.clock.advance(3600_000);
    offer(a, buildPlan(r3));
    await checkNow(rt);
    a.clients.length = 0;
    a.clock.advance(120_000);
    await rt.onStart();
    let s = await state(rt);
    expect(s.active).toBe(r3.manifest.id);
    expect(s.boot?.previous).toBe(r1.manifest.id);
    expect(a.cache.entries.has(v1only)).toBe(true);

    await rt.onFetch(nav(APP, 'page-v3'));
    a.clock.advance(BOOT);
    await rt.idle();
    s = await state(rt);
    expect(s.active).toBe(r1.manifest.id);
    expect(await (await rt.onFetch({ request: new Request(APP + 'assets/app-1.js'), clientId: 'page-v1', resultingClientId: '' })!).text()).toBe(V1['assets/app-1.js']);
  });

  it('bootTimeoutMs 0 turns the check off', async () => {
    const a = new TestAdapter();
    await installed(a);
    const off = new Runtime(a, { ...config, bootTimeoutMs: 0 });
    await ready(off, 'window-1');
    const r2 = await buildRelease(V2);
    serveBlobs(a, r2);
    offer(a, buildPlan(r2));
    await checkNow(off);
    expect((await off.state()).active).toBe(r2.manifest.id);
    expect((await off.state()).boot).toBeNull();
  });
});
