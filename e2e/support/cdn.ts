import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Faults, type Traffic } from './faults.js';

/** Marks the CDN's own pulls from the origin in the origin's request log. */
export const CDN_PULL_HEADER = 'x-updraft-test-cdn-pull';

/**
 * A real second HTTP origin standing in for a CDN: a pull-through cache of the origin's
 * `/v1/blobs/:sha256` route, with CORS as a CDN in front of Updraft must send, a request log and a
 * fault table. `stop()` closes the socket so the SW sees "connection refused"; `start()` listens
 * again on the same port.
 */
export class TestCdn {
  readonly faults = new Faults();
  readonly traffic: Traffic;
  /** The Updraft origin this CDN pulls from; may be set after construction (ports are picked at start). */
  origin: string;
  #cache = new Map<string, Uint8Array>();
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #port = 0;

  constructor(origin = '') {
    this.origin = origin;
    this.traffic = this.faults.traffic;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      // A pull from an origin that is being stopped rejects mid-body ("terminated"): answer like a
      // CDN would (502, or a cut connection once headers went out), never an unhandled rejection.
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'access-control-allow-origin': '*', 'content-type': 'application/json' }).end('{"error":{"code":"transport","message":"upstream failed"}}');
        else res.destroy();
      });
    });
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    this.faults.releaseAll();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'Retry-After, Content-Length, ETag',
    };
    const url = new URL(req.url ?? '/', this.url);
    // Parts by hash, and deltas by their pair (a CDN mirroring `v1/` serves both): fault key is the hash, or the delta's path.
    const match = /^\/v1\/blobs\/([0-9a-f]{64})$/.exec(url.pathname) ?? /^\/v1\/deltas\/[0-9a-f]{64}\/[0-9a-f]{64}$/.exec(url.pathname);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': '*' }).end();
      return;
    }
    if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...cors, 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"not found"}}');
      return;
    }
    const sha = match[1] ?? url.pathname;
    // The connection closing before the answer ended is how a browser's abort shows at a server.
    // Not when this server cut it (a `drop` fault, `stop()`).
    let cut = false;
    res.on('close', () => {
      if (!res.writableFinished && !cut && this.#server !== null) this.traffic.aborted.push(url.pathname);
    });
    const verdict = await this.faults.apply(url.pathname, sha);
    if (verdict.kind === 'status') {
      res.writeHead(verdict.status, { ...cors, 'content-type': 'application/json', ...(verdict.retryAfter !== undefined ? { 'retry-after': String(verdict.retryAfter) } : {}) });
      res.end(`{"error":{"code":"overloaded","message":"injected ${verdict.status}"}}`);
      return;
    }
    if (verdict.kind === 'drop') {
      cut = true;
      req.socket.destroy();
      return;
    }
    let bytes = this.#cache.get(sha);
    if (!bytes) {
      const upstream = await fetch(new URL(url.pathname.slice(1), this.origin), { headers: { [CDN_PULL_HEADER]: '1' } }).catch(() => null);
      if (!upstream || !upstream.ok) {
        res.writeHead(upstream?.status ?? 502, { ...cors, 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"upstream"}}');
        return;
      }
      bytes = new Uint8Array(await upstream.arrayBuffer());
      this.#cache.set(sha, bytes);
    }
    const body = verdict.kind === 'corrupt' ? corrupt(bytes) : bytes;
    this.traffic.bytes(url.pathname, body.byteLength);
    res.writeHead(200, {
      ...cors,
      'content-type': 'application/octet-stream',
      'content-length': String(body.byteLength),
      'cache-control': 'public, max-age=31536000, immutable',
      etag: `"${match[1] ?? url.pathname.split('/').slice(-2).join('-')}"`,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/** Same length, one byte flipped (the first, or the one at `at`): only a hash check can tell. */
export function corrupt(bytes: Uint8Array, at = 0): Uint8Array {
  const out = new Uint8Array(bytes);
  const i = at < 0 ? out.length + at : at;
  if (i >= 0 && i < out.length) out[i] = out[i]! ^ 0xff;
  return out;
}
