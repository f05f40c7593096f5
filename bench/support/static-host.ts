import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { lookup } from 'mrmime';
import { chooseEncoding } from '../../server/precompress.js';

/**
 * A well-configured static host for the vite-plugin-pwa build, so the comparison is fair: brotli
 * or gzip at max quality by Accept-Encoding (as precompressed by a build step or a CDN), strong
 * ETags with 304s, a year of immutable caching for hashed files and `no-cache` for the rest (the
 * service worker script, index.html). `root` can change between builds, like a deploy.
 */
export class StaticHost {
  root: string;
  #server: Server | null = null;
  #cache = new Map<string, { etag: string; identity: Buffer; br: Buffer; gzip: Buffer }>();
  port = 0;
  /** The Accept-Encoding headers seen, for the report. */
  readonly acceptEncodings = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const rel = normalize(path === '/' ? '/index.html' : path).replace(/^\/+/, '');
      const file = join(this.root, rel);
      if (rel.startsWith('..') || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const entry = this.#entry(file);
      const type = lookup(file) ?? 'application/octet-stream';
      const ae = req.headers['accept-encoding'];
      if (ae) this.acceptEncodings.add(String(ae));
      const compressible = /^(text\/|application\/(javascript|json|manifest\+json)|image\/svg)/.test(type);
      const available = compressible ? (['br', 'gzip'] as const).filter((e) => entry[e].byteLength < entry.identity.byteLength) : [];
      const encoding = chooseEncoding(ae as string | undefined, available);
      const etag = `"${entry.etag}${encoding ? `-${encoding}` : ''}"`;
      const hashed = /^assets\/|^workbox-[0-9a-f]+\.js$/.test(rel);
      const headers: Record<string, string> = {
        'content-type': type,
        etag,
        'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...(available.length ? { vary: 'Accept-Encoding' } : {}),
        ...(encoding ? { 'content-encoding': encoding } : {}),
      };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers).end();
        return;
      }
      const body = encoding ? entry[encoding] : entry.identity;
      res.writeHead(200, { ...headers, 'content-length': String(body.byteLength) }).end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  #entry(file: string) {
    let e = this.#cache.get(file);
    const identity = readFileSync(file);
    const etag = createHash('sha256').update(identity).digest('hex').slice(0, 32);
    if (!e || e.etag !== etag) {
      e = { etag, identity, br: brotliCompressSync(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }), gzip: gzipSync(identity, { level: 9 }) };
      this.#cache.set(file, e);
    }
    return e;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
