import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, writeDist } from './fake-dist.js';
import { startServer, type RunningServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { publishDirectory } from './publish.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'lane-token';
const NOW = 1_700_000_000_000;
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/**
 * Two servers over one store: `lane` answers check-ins in the Node lane, `hono` through the Hono
 * route and its middleware (the update server mounted in another app, without `checkInLane`).
 * Each has its own gates, so the same requests sent to both must get the same answers.
 */
async function pair(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-lane-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const options = { store, blobs, token: TOKEN, now: () => NOW, ...o };
  const lane = await startServer({ app: createUpdateServer(options), store, blobs });
  const hono = await startServer({ app: new Hono().route('/', createUpdateServer(options)), store, blobs });
  running.push(lane, hono);
  const releases: string[] = [];
  for (const version of ['1', '2']) {
    // Six changed parts: the compact plan passes 1 KB, where the uncompressed answer is split.
    const chunks = Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`assets/chunk-${k}-${version}.js`, `export const c${k} = ${version};`]));
    const dist = await fakeDist({ 'index.html': `<h1>${version}</h1>`, [`assets/app-${version}.js`]: `console.log(${version})`.padEnd(3000, ' '), 'assets/style.css': 'body{}', ...chunks }, { version, app: 'demo' });
    await writeDist(join(dir, version), dist);
    await publishDirectory(join(dir, version), { server: lane.url, token: TOKEN, channel: 'stable' });
    releases.push(dist.manifest.id);
  }
  return { lane, hono, releases };
}

interface Seen { status: number; headers: Record<string, string>; body: string }

/**
 * An answer with what differs between two servers by nature taken out: the date, its own URL in
 * plan sources, and the `recorded` token (each server has an epoch of its own).
 */
async function seen(res: Response, url: string): Promise<Seen> {
  const headers = Object.fromEntries([...res.headers].filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)));
  const body = await res.text();
  const recorded = /"recorded":"[0-9a-z]{1,16}"/;
  // Its URL's length (the port) and the token's move the length of an answer that names them.
  if (body.includes(url) || recorded.test(body)) headers['content-length'] = /^\d+$/.test(headers['content-length'] ?? '') ? 'some' : 'none';
  return { status: res.status, headers, body: body.replaceAll(url, 'ORIGIN/').replace(recorded, '"recorded":"TOKEN"') };
}

/** Sends the same request to both servers and returns both answers. */
async function both(servers: { lane: RunningServer; hono: RunningServer }, init: RequestInit, path: string = PATHS.checkIn): Promise<[Seen, Seen]> {
  return [await seen(await fetch(servers.lane.url + path, init), servers.lane.url), await seen(await fetch(servers.hono.url + path, init), servers.hono.url)];
}

const blobUrl = (server: string) => `${server}v1/blobs/${'0'.repeat(64)}`;

/**
 * A check-in whose headers and first bytes are sent and the rest held back, returned once it holds
 * the server's one in-flight place (a part request then gets 503). A part request racing it can
 * take the place first, and the check-in is then refused: it is sent again.
 */
async function heldCheckIn(server: string, length: number, first: string): Promise<{ req: ClientRequest; answered: Promise<number> }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const req = request(`${server}${PATHS.checkIn}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(length) } });
    req.on('error', () => {}); // a destroyed request reports its own end
    let status: number | null = null;
    const answered = new Promise<number>((resolve) => req.on('response', (res) => {
      res.resume();
      resolve((status = res.statusCode!));
    }));
    req.flushHeaders();
    req.write(first);
    for (let i = 0; i < 500 && status === null; i++) {
      if ((await fetch(blobUrl(server))).status === 503 && status === null) return { req, answered };
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(status, 'refused while a part request held the place').toBe(503);
  }
  throw new Error('the check-in never held the gate');
}

const checkIn = (release: string | null, o: object = {}) =>
  JSON.stringify({ client: 'client-abc-123', app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true }, ...o });
const COMPACT = { sync: true, periodicSync: false, compactPlans: true, swIds: true };
const post = (body: string, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('the Node check-in lane answers as the Hono route does', () => {
  it('a body that arrives in many pieces is read whole (the pieces are joined once)', async () => {
    const s = await pair();
    const [, to] = s.releases as [string, string];
    // JSON with room to spare, sent in 200 writes, each after the last left the socket.
    const body = checkIn(to).replace('{', `{${' '.repeat(20_000)}`);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${s.lane.url}${PATHS.checkIn}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('socket', (socket) => socket.setNoDelay(true));
      const size = Math.ceil(body.length / 200);
      void (async () => {
        for (let i = 0; i < body.length; i += size) {
          req.write(body.slice(i, i + size));
          await new Promise((r) => setTimeout(r, 1));
        }
        req.end();
      })();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ status: 'current' });
  });

  it('a client that hangs up mid-body is not logged as an internal error, and takes nothing with it', async () => {
    const s = await pair();
    const [, to] = s.releases as [string, string];
    const errors: unknown[][] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args));
    try {
      const cut = (server: RunningServer, path: string, method: string, headers: Record<string, string>, first: string) =>
        new Promise<void>((resolve) => {
          const req = request(`${server.url.slice(0, -1)}${path}`, { method, headers });
          req.on('error', () => resolve());
          req.flushHeaders();
          req.write(first);
          setTimeout(() => {
            req.destroy();
            setTimeout(resolve, 100);
          }, 100);
        });
      for (const server of [s.lane, s.hono]) {
        // Chunked: Hono's route reads it (the lane hands it on).
        await cut(server, `/${PATHS.checkIn}`, 'POST', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, '{"client":');
        await cut(server, `/${PATHS.adminBlob('b'.repeat(64))}`, 'PUT', { authorization: `Bearer ${TOKEN}`, 'content-length': '100000' }, 'z'.repeat(5000));
        expect((await fetch(server.url + PATHS.checkIn, post(checkIn(to)))).status).toBe(200);
      }
      expect(errors.filter((args) => String(args[0]).includes('internal error'))).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('a Host header no URL can hold (which Node\'s parser lets through) is 400 bad_request on both paths, and the dashboard answers it without a 500', async () => {
    const s = await pair();
    const [, to] = s.releases as [string, string];
    const send = (server: RunningServer, method: string, path: string, host: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${server.url.slice(0, -1)}${path}`, { method, setHost: false, headers: { host, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } });
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.end(body);
      });
    for (const host of ['xn--', '999.1.1.1', '1.2.3.4.5']) {
      for (const server of [s.lane, s.hono]) {
        const answer = await send(server, 'POST', `/${PATHS.checkIn}`, host, checkIn(to));
        expect(answer.status, host).toBe(400);
        expect(JSON.parse(answer.body), host).toMatchObject({ error: { code: 'bad_request' } });
      }
      expect((await send(s.lane, 'GET', '/v1/admin/dashboard', host)).status, host).toBe(401);
      expect((await send(s.lane, 'GET', '/v1/admin/dashboard?token=nope', host)).status, host).toBe(401);
    }
  });

  it('current, update (plain, brotli, gzip), a BOM, bad JSON, a bad body, a preflight, an oversized body', async () => {
    const s = await pair();
    const [from, to] = s.releases as [string, string];
    const cases: [string, RequestInit, number][] = [
      ['current', post(checkIn(to)), 200],
      ['update', post(checkIn(from)), 200],
      ['update, brotli', post(checkIn(from), { 'accept-encoding': 'br, gzip' }), 200],
      ['update, gzip', post(checkIn(from), { 'accept-encoding': 'gzip' }), 200],
      // The worker's compact plan: spliced gzip, or uncompressed as the client's text and the template's bytes.
      ['compact update, gzip', post(checkIn(from, { caps: COMPACT }), { 'accept-encoding': 'gzip' }), 200],
      ['compact update, not compressed', post(checkIn(from, { caps: COMPACT }), { 'accept-encoding': 'identity' }), 200],
      ['first install', post(checkIn(null)), 200],
      ['a leading BOM', post(`\uFEFF${checkIn(to)}`), 200],
      ['text/plain, as sendBeacon sends', post(checkIn(to), { 'content-type': 'text/plain;charset=UTF-8' }), 200],
      ['bad JSON', post('{"client":'), 400],
      ['a bad body', post(checkIn(to, { channel: '../etc' })), 400],
      ['an unknown key (the schema path)', post(checkIn(to, { extra: 1 })), 200],
      ['preflight', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } }, 204],
      ['over the body limit', post(checkIn(to, { pad: 'x'.repeat(2_000_000) })), 413],
    ];
    for (const [name, init, status] of cases) {
      const [lane, hono] = await both(s, init);
      expect(lane, name).toEqual(hono);
      expect(lane.status, name).toBe(status);
    }
    // The answers are real ones, not two equal errors.
    // (fetch asks for gzip and deflate when not told otherwise.)
    const [update] = await both(s, post(checkIn(from), { 'accept-encoding': 'br' }));
    expect(update.headers['content-encoding']).toBe('br');
    expect(JSON.parse(update.body)).toMatchObject({ status: 'update', plan: { to } });
    const [compact] = await both(s, post(checkIn(from, { caps: COMPACT }), { 'accept-encoding': 'identity' }));
    expect(compact.headers['content-encoding']).toBeUndefined();
    // Over 1 KB, so written as the client's text and the template's shared bytes (compress-answer.ts).
    expect(Buffer.byteLength(compact.body)).toBeGreaterThan(1024);
    expect(JSON.parse(compact.body)).toMatchObject({ status: 'update', nextCheckIn: 3600, plan: { to, fetch: { parts: expect.any(Array) } } });
    const [bad] = await both(s, post(checkIn(to, { channel: '../etc' })));
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'invalid_body' } });
    expect(bad.headers).toMatchObject({ 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff', 'content-type': 'application/json' });
    // Nothing to expose without a Retry-After (the 429 and 503 below have one).
    for (const r of [bad, compact]) expect(r.headers['access-control-expose-headers']).toBeUndefined();
  });

  it('a pause or a roll back: `current` with `drop` for a client holding the withdrawn release, the common `current` for the rest, on both paths', async () => {
    const s = await pair();
    const [a, b] = s.releases as [string, string];
    const setChannel = async (update: object) => {
      const res = await fetch(s.lane.url + PATHS.adminChannel('stable'), { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(update) });
      expect(res.status).toBe(200);
    };
    // As the worker writes it (the scanner's path), and in another key order (the JSON way).
    const worker = (release: string | null, held: { staged?: string | null; pending?: string | null }) =>
      `{"client":"client-abc-123","app":"demo","channel":"stable","release":${JSON.stringify(release)}` +
      `${held.staged !== undefined ? `,"staged":${JSON.stringify(held.staged)}` : ''}${held.pending !== undefined ? `,"pending":${JSON.stringify(held.pending)}` : ''}` +
      ',"caps":{"sync":true,"periodicSync":false,"compactPlans":true,"swIds":true}}';
    const answers = async (release: string | null, held: { staged?: string | null; pending?: string | null }) => {
      const out: unknown[] = [];
      for (const body of [worker(release, held), checkIn(release, held)]) {
        const [lane, hono] = await both(s, post(body));
        expect(lane).toEqual(hono);
        expect(lane.status).toBe(200);
        const json = JSON.parse(lane.body) as { status: string; drop?: boolean; plan?: { to: string } };
        out.push(json.status === 'current' ? { status: 'current', drop: json.drop ?? false } : { status: json.status, to: json.plan?.to, drop: 'drop' in json });
      }
      expect(out[0], 'both spellings read alike').toEqual(out[1]);
      return out[0];
    };
    const current = (drop: boolean) => ({ status: 'current', drop });
    // Live rollout: a client holding a plan to the target gets the plan again, never a drop.
    expect(await answers(a, { pending: b })).toEqual({ status: 'update', to: b, drop: false });
    expect(await answers(b, { staged: null, pending: null })).toEqual(current(false));

    await setChannel({ paused: true });
    expect(await answers(a, { pending: b }), 'paused, a plan pending').toEqual(current(true));
    expect(await answers(a, { staged: b }), 'paused, the target staged: kept').toEqual(current(false));
    expect(await answers(a, { staged: null, pending: null }), 'paused, nothing held').toEqual(current(false));

    await setChannel({ paused: false, release: a });
    expect(await answers(a, { staged: b }), 'rolled back, the newer release staged').toEqual(current(true));
    expect(await answers(a, { pending: b }), 'rolled back, a plan pending').toEqual(current(true));
    expect(await answers(a, {}), 'rolled back, an old worker').toEqual(current(false));
    expect(await answers(b, {}), 'rolled back, on the newer release').toEqual({ status: 'update', to: a, drop: false });
    // The text of the answer, exactly (recorded tokens off: the cached JSON itself).
    const plain = await pair({ clientRecordMs: 0 });
    await fetch(plain.lane.url + PATHS.adminChannel('stable'), { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ release: plain.releases[0] }) });
    const [dropText] = await both(plain, post(checkIn(plain.releases[0]!, { staged: plain.releases[1] })));
    expect(dropText.body).toBe('{"status":"current","nextCheckIn":3600,"drop":true}');
    const [plainText] = await both(plain, post(checkIn(plain.releases[0]!)));
    expect(plainText.body).toBe('{"status":"current","nextCheckIn":3600}');
  });

  it('records the client as the route does', async () => {
    const s = await pair();
    await fetch(s.lane.url + PATHS.checkIn, post(checkIn(s.releases[0]!, { client: 'lane-client-1' })));
    await fetch(s.hono.url + PATHS.checkIn, post(checkIn(s.releases[0]!, { client: 'hono-client-1' })));
    // Both servers share the one store: one record from each path.
    const counts = await s.lane.store.countClients('demo');
    expect(counts).toEqual([{ channel: 'stable', release: s.releases[0], count: 2 }]);
  });

  it('the per-client limit: the same count (an invalid body with a valid client counts too), then 429 with Retry-After past the window', async () => {
    const s = await pair({ clientCheckIns: { max: 2, windowMs: 60_000 } });
    const to = s.releases[1]!;
    const sequence = [post(checkIn(to)), post(checkIn(to, { release: 'not-a-release' })), post(checkIn(to)), post('not json'), post(checkIn(to, { client: 'other-client-1' }))];
    const statuses: [number, number][] = [];
    for (const init of sequence) {
      const [lane, hono] = await both(s, init);
      statuses.push([lane.status, hono.status]);
      if (lane.status === 429) {
        // Jittered per server, so only its range is the same: the window's end plus up to half a window.
        for (const r of [lane, hono]) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(60), expect(Number(r.headers['retry-after'])).toBeLessThan(91);
        expect(lane.headers['access-control-expose-headers']).toBe('Retry-After');
        delete lane.headers['retry-after'];
        delete hono.headers['retry-after'];
      }
      expect(lane).toEqual(hono);
    }
    expect(statuses).toEqual([[200, 200], [400, 400], [429, 429], [400, 400], [200, 200]]);
  });

  it('overloaded: 503 `overloaded` with a jittered Retry-After, from the gate the blob routes share', async () => {
    const s = await pair({ maxInFlight: 0, retryAfter: 7 });
    const [lane, hono] = await both(s, post(checkIn(s.releases[0]!)));
    expect([lane.status, hono.status]).toEqual([503, 503]);
    for (const r of [lane, hono]) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(7), expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(14);
    expect(lane.headers['access-control-expose-headers']).toBe('Retry-After');
    delete lane.headers['retry-after'];
    delete hono.headers['retry-after'];
    expect(lane).toEqual(hono);
    expect(JSON.parse(lane.body)).toMatchObject({ error: { code: 'overloaded' } });
  });

  it('a check-in in progress holds the shared gate: a part request is shed meanwhile', async () => {
    const s = await pair({ maxInFlight: 1 });
    const body = checkIn(s.releases[0]!);
    // Headers and the first bytes: the lane has counted the check-in in and waits for the rest.
    const held = await heldCheckIn(s.lane.url, Buffer.byteLength(body), body.slice(0, 10));
    held.req.end(body.slice(10));
    expect(await held.answered).toBe(200);
    expect((await fetch(blobUrl(s.lane.url))).status).toBe(404);
  });

  it('a client gone mid-body gives its place in the gate back', async () => {
    const s = await pair({ maxInFlight: 1 });
    const held = await heldCheckIn(s.lane.url, 500, '{"client":');
    held.req.destroy();
    await expect.poll(async () => (await fetch(blobUrl(s.lane.url))).status, { timeout: 10_000 }).toBe(404);
  });

  it('takes only the check-in: with `checkInLane`, the composed app sees every request but check-ins', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-lane-' });
    const blobs = new BlobStore(join(dir, 'blobs'));
    const updates = createUpdateServer({ store, blobs, token: TOKEN, now: () => NOW });
    const seenPaths: string[] = [];
    const app = new Hono();
    app.use('*', async (c, next) => {
      seenPaths.push(`${c.req.method} ${c.req.path}`);
      await next();
    });
    app.route('/', updates);
    const server = await startServer({ app, checkInLane: updates, store, blobs });
    running.push(server);
    expect((await fetch(server.url + PATHS.checkIn, post(checkIn(null)))).status).toBe(200);
    expect((await fetch(`${server.url}${PATHS.checkIn}?x=1`, post(checkIn(null)))).status).toBe(200);
    expect((await fetch(`${server.url}${PATHS.checkIn}`)).status).toBe(404);
    expect(seenPaths).toEqual([`POST /${PATHS.checkIn}`, `GET /${PATHS.checkIn}`]);
  });
});
