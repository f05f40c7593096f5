import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { startServer, type RunningServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'deadline-token';
const running: RunningServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** A real server with one in-flight place and a short body deadline. */
async function server(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-deadline-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const s = await startServer({ store, blobs, dataDir: dir, serve: false, token: TOKEN, maxInFlight: 1, bodyTimeoutMs: 400, ...o });
  running.push(s);
  return s;
}

const checkInBody = (client: string) =>
  JSON.stringify({ client, app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, swIds: true } });

/**
 * A raw HTTP/1.1 request on its own socket: `head` (request line and headers) is sent at once, the
 * body by the caller. `answer` is everything the server sent until it closed the connection.
 */
function rawRequest(url: string, head: string) {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {}); // the server closing on us mid-write is what some tests want
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
  socket.write(`${head.replace(/\n/g, '\r\n')}\r\n\r\n`);
  return { socket, closed, text: () => text };
}

/** Writes `piece` every `everyMs` until the socket closes (a slowloris client) or `stop()`. */
function trickle(socket: Socket, piece: string, everyMs: number) {
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) clearInterval(timer);
    else socket.write(piece);
  }, everyMs);
  return () => clearInterval(timer);
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
const blobUrl = (base: string) => `${base}v1/blobs/${'0'.repeat(64)}`;

/** Waits until `place` is held (a part request is shed with 503), so the test knows the body is being waited for. */
async function held(base: string) {
  await expect.poll(async () => (await fetch(blobUrl(base))).status, { timeout: 3000, interval: 20 }).toBe(503);
}

/**
 * A slowloris client: sends `head` and `first`, then `piece` every 50 ms. Once it is sending,
 * `meanwhile` runs; the answer is everything the server sent until it closed the connection, or
 * what came in 3 s. A 408 `timeout` with `Connection: close` is checked here.
 */
async function slowClient(url: string, head: string, first: string, piece: string, meanwhile?: () => Promise<void>) {
  const r = rawRequest(url, head);
  r.socket.write(first);
  const stop = trickle(r.socket, piece, 50);
  await meanwhile?.();
  const answer = await Promise.race([r.closed, new Promise<string>((resolve) => setTimeout(() => resolve(`still open after 3 s: ${r.text()}`), 3000))]);
  stop();
  expect(statusOf(answer), answer).toBe(408);
  expect(answer.toLowerCase()).toContain('connection: close');
  return bodyOf(answer).error;
}

describe('body deadline (408 timeout) for small-body routes', () => {
  it('refuses a bodyTimeoutMs that is not an integer in [1, 300000]', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-deadline-' });
    const blobs = new BlobStore(join(dir, 'blobs'));
    for (const bodyTimeoutMs of [NaN, 0, -1, 1.5, 300_001, Infinity]) {
      expect(() => createUpdateServer({ store, blobs, bodyTimeoutMs })).toThrow(/bodyTimeoutMs must be an integer in \[1, 300000\]/);
    }
    expect(() => createUpdateServer({ store, blobs, bodyTimeoutMs: 300_000 })).not.toThrow();
    await store.close();
  });

  it('the check-in lane: a trickled body gets 408 by the deadline, the connection closes, and its in-flight place is given back', async () => {
    const s = await server();
    const started = Date.now();
    const error = await slowClient(s.url, `POST /${PATHS.checkIn} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 500`, '{"client":', ' ', () => held(s.url));
    expect(error.code).toBe('timeout');
    // The 408 came at the deadline, not at once and not minutes later.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // The place is free: with maxInFlight 1, the next check-in is answered, not shed.
    expect((await fetch(s.url + PATHS.checkIn, { method: 'POST', body: checkInBody('next-client-1') })).status).toBe(200);
  });

  it('the Hono route: a chunked check-in body trickled past the deadline gets 408 and its place is given back', async () => {
    const s = await server();
    const error = await slowClient(s.url, `POST /${PATHS.checkIn} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nTransfer-Encoding: chunked`, 'a\r\n{"client":\r\n', '1\r\n \r\n', () => held(s.url));
    expect(error.code).toBe('timeout');
    expect((await fetch(s.url + PATHS.checkIn, { method: 'POST', body: checkInBody('next-client-2') })).status).toBe(200);
  });

  it('reports: a trickled batch gets 408 and its connection is closed', async () => {
    const s = await server();
    const error = await slowClient(s.url, `POST /${PATHS.reports} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Length: 500`, '{"reports":', ' ');
    expect(error.code).toBe('timeout');
  });

  it('the dashboard sign-in form: a trickled form gets 408 and its connection is closed', async () => {
    const s = await server();
    const error = await slowClient(s.url, `POST /v1/admin/dashboard HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/x-www-form-urlencoded\nContent-Length: 500`, 'token=', 'a');
    expect(error.code).toBe('timeout');
  });

  it('a body that arrives in time, in pieces, is answered as usual on both paths', async () => {
    const s = await server({ bodyTimeoutMs: 2000 });
    const body = checkInBody('in-time-client');
    for (const head of [`Content-Length: ${Buffer.byteLength(body)}`, 'Transfer-Encoding: chunked']) {
      const r = rawRequest(s.url, `POST /${PATHS.checkIn} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nConnection: close\n${head}`);
      const chunked = head.startsWith('Transfer');
      for (const piece of [body.slice(0, 20), body.slice(20)]) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        r.socket.write(chunked ? `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n` : piece);
      }
      if (chunked) r.socket.write('0\r\n\r\n');
      const answer = await r.closed;
      expect(statusOf(answer), answer).toBe(200);
    }
  });

  it('a part upload longer than the deadline but steady, above uploadMinRate, is not cut off', async () => {
    const s = await server({ bodyTimeoutMs: 200 });
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const r = rawRequest(s.url, `PUT /${PATHS.adminBlob(sha)} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${TOKEN}\nContent-Type: application/octet-stream\nContent-Length: ${bytes.byteLength}\nConnection: close`);
    // 16 pieces, 60 ms apart: about a second, five deadlines.
    for (let i = 0; i < 16; i++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      r.socket.write(bytes.subarray(i * 16 * 1024, (i + 1) * 16 * 1024));
    }
    const answer = await r.closed;
    expect(statusOf(answer), answer).toBeLessThan(300);
    expect(await s.store.missingBlobs([sha])).toEqual([]);
  });

  it('a part upload that comes slower than uploadMinRate gets 408 and its connection is closed', async () => {
    // At least 10 000 bytes each 200 ms; 100 bytes each 50 ms (2 000 B/s) comes.
    const s = await server({ bodyTimeoutMs: 200, uploadMinRate: 50_000 });
    const sha = 'a'.repeat(64);
    const started = Date.now();
    const error = await slowClient(s.url, `PUT /${PATHS.adminBlob(sha)} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${TOKEN}\nContent-Type: application/octet-stream\nContent-Length: 1000000`, '', 'x'.repeat(100));
    expect(error).toMatchObject({ code: 'timeout', message: 'the request body came slower than 50000 bytes/s over 200 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await s.store.missingBlobs([sha])).toEqual([sha]);
  });

  it('refuses an uploadMinRate or requestTimeoutMs out of range', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-deadline-' });
    const blobs = new BlobStore(join(dir, 'blobs'));
    for (const uploadMinRate of [Number.NaN, 0, 1.5]) {
      expect(() => createUpdateServer({ store, blobs, uploadMinRate })).toThrow(new TypeError(`uploadMinRate must be an integer in [1, ${Number.MAX_SAFE_INTEGER}], got ${uploadMinRate}`));
    }
    for (const requestTimeoutMs of [Number.NaN, -1, 2 ** 31]) {
      await expect(startServer({ store, blobs, dataDir: dir, requestTimeoutMs })).rejects.toThrow(new TypeError(`requestTimeoutMs must be an integer in [0, 2147483647], got ${requestTimeoutMs}`));
    }
    await store.close();
  });
});
