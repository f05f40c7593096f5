/**
 * The baseline for cached page loads: the same build served from a plain static origin whose
 * `sw.js` is a workbox-precaching worker precaching every file of the build (revision = its
 * SHA-256 from the release manifest), with skipWaiting + clients.claim as such workers usually do.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { lookup } from 'mrmime';
import { build, type Rolldown } from 'vite';
import { SW_FILE } from '../../protocol/index.js';
import { BENCH_DIR, type BenchApp } from './bench-app.js';

export async function bundleWorkboxWorker(app: BenchApp): Promise<Uint8Array> {
  const dir = join(BENCH_DIR, 'workbox-sw');
  mkdirSync(dir, { recursive: true });
  const entries = app.manifest.assets.map((a) => ({ url: '/' + a.path, revision: a.sha256 }));
  const entry = join(dir, 'entry.js');
  writeFileSync(
    entry,
    `import { precacheAndRoute } from 'workbox-precaching';\n` +
      `self.addEventListener('install', () => self.skipWaiting());\n` +
      `self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\n` +
      `precacheAndRoute(${JSON.stringify(entries)});\n`,
  );
  const output = (await build({
    configFile: false,
    root: dir,
    publicDir: false,
    logLevel: 'error',
    mode: 'production',
    define: { 'process.env.NODE_ENV': '"production"' },
    build: { write: false, minify: true, rolldownOptions: { input: entry, output: { format: 'iife', entryFileNames: SW_FILE, codeSplitting: false } } },
  })) as Rolldown.RolldownOutput;
  const chunk = output.output.find((f): f is Rolldown.OutputChunk => f.type === 'chunk' && f.fileName === SW_FILE);
  if (!chunk) throw new Error('workbox worker build produced no sw.js');
  return new TextEncoder().encode(chunk.code);
}

export interface StaticOrigin {
  url: string;
  close(): Promise<void>;
}

/** Serves `app.dir` on 127.0.0.1 (the entry at `/`) and `worker` at `/sw.js`. */
export async function startWorkboxOrigin(app: BenchApp, worker: Uint8Array): Promise<StaticOrigin> {
  const root = resolve(app.dir);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || app.manifest.entry;
    const headers = { 'cache-control': 'no-cache', 'content-type': lookup(path) ?? 'application/octet-stream' };
    if (path === SW_FILE) return void res.writeHead(200, headers).end(worker);
    const file = resolve(root, path);
    let body: Buffer;
    try {
      if (!file.startsWith(root + sep)) throw new Error('outside');
      body = readFileSync(file);
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
