// The server side of `bench/check-in.ts`, in its own process so the load generator does not share
// its event loop. Publishes two releases of 60 assets, points `stable` at the second, seeds
// `UPDRAFT_BENCH_CLIENTS` client records, adds `/bench/static.json` (a small in-memory JSON file:
// the ceiling for an "is there an update" answer) and `/bench/static-plan.json` (a plan answer's
// bytes: the ceiling for an answer of that size), and prints one JSON line when ready.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { CheckInRequest } from '../protocol/index.js';
import { answerText, renderCurrent } from '../server/answer-json.js';
import { answerCheckIn } from '../server/check-in.js';
import { parseCheckIn } from '../server/check-in-request.js';
import { resolveOptions } from '../server/options.js';
import type { ClientRecord } from '../server/store.js';
import { BlobStore, createUpdateServer, fakeDist, openSqliteStore, openStore, publishDirectory, startServer, writeBehind, writeDist } from '../server/index.js';

const dir = mkdtempSync(join(tmpdir(), 'updraft-bench-'));
// As `updraft serve` runs it: client state written behind, in batches. UPDRAFT_BENCH_DB=postgres://...
// puts it in PostgreSQL instead (as `updraft serve --db`), whose work is then in another process.
const store = writeBehind(process.env.UPDRAFT_BENCH_DB ? await openStore(process.env.UPDRAFT_BENCH_DB) : openSqliteStore(dir));
const blobs = new BlobStore(join(dir, 'blobs'));
const refMin = process.env.UPDRAFT_BENCH_REF_MIN_BYTES;
const updates = createUpdateServer({ store, blobs, token: 'bench', clientCheckIns: false, maxInFlight: 100_000, ...(refMin ? { planRefMinBytes: Number(refMin) } : {}) });
const staticJson = new TextEncoder().encode(JSON.stringify({ status: 'current', nextCheckIn: 3600 }));
const app = new Hono();
app.get('/bench/static.json', (c) => c.body(staticJson, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }));
// A plan answer as a static file (filled in once the releases are published): the limit for an
// answer of that size, as static.json is for a small one.
let staticPlan = new Uint8Array();
app.get('/bench/static-plan.json', (c) => c.body(staticPlan, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }));
app.post('/bench/echo', async (c) => {
  await c.req.text();
  return c.body(staticJson, 200, { 'content-type': 'application/json' });
});
app.route('/', updates);
// Check-ins go through the Node lane, as `updraft serve` answers them; UPDRAFT_BENCH_LANE=0 sends
// them through the Hono route and its middleware instead (the comparison in BENCHMARKS.md).
const lane = process.env.UPDRAFT_BENCH_LANE === '0' ? {} : { checkInLane: updates };
const server = await startServer({ app, store, blobs, port: 0, ...lane });

// The same JSON from Node's bare http module, in this process: the floor under any framework,
// to say how much of the gap to `static` is Hono's and how much the check-in's own. With
// UPDRAFT_BENCH_ABLATION=1 it also answers the check-in with parts of its work left out
// (bench/check-in.ts says which): where the check-in's own time goes.
const o = resolveOptions({ store, blobs, token: 'bench' });
const queued = new Map<string, ClientRecord>();
const ablation: Record<string, ((req: CheckInRequest) => Promise<string>) | undefined> = {
  '/echo': async () => renderCurrent(o.checkInInterval),
  '/parse-decide': async (req) => answerText(await answerCheckIn(o, req, 'http://127.0.0.1/', Date.now())),
  '/parse-decide-queue': async (req) => {
    const now = Date.now();
    queued.set(`${req.app}\n${req.client}`, { id: req.client, app: req.app, channel: req.channel, release: req.release, staged: req.staged ?? null, caps: req.caps, lastSeen: now });
    if (queued.size >= 2000) queued.clear();
    return answerText(await answerCheckIn(o, req, 'http://127.0.0.1/', now));
  },
};
const bare = createServer((req, res) => {
  const answer = (body: string | Uint8Array) => {
    res.writeHead(200, ['content-type', 'application/json', 'cache-control', 'no-cache', 'content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength)]);
    res.end(body);
  };
  // What a GET check-in (its fields in the query, no body) would cost: the query parsed into the same request.
  if (req.method === 'GET' && req.url?.startsWith('/get-parse-decide?')) {
    const q = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
    const fromQuery = JSON.stringify({ client: q.get('client'), app: q.get('app'), channel: q.get('channel'), release: q.get('release'), caps: { sync: q.get('sync') === '1', periodicSync: q.get('periodicSync') === '1' } });
    void ablation['/parse-decide']!(parseCheckIn(fromQuery)).then(answer);
    return;
  }
  const step = ablation[req.url ?? ''];
  if (req.method !== 'POST' || !step) return answer(staticJson);
  // Read as the lane reads a body.
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    const text = new TextDecoder().decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    answer(await step(req.url === '/echo' ? (null as unknown as CheckInRequest) : parseCheckIn(text)));
  });
});
await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;

const releases = [];
for (const version of ['1.0.0', '2.0.0']) {
  const files: Record<string, string> = { 'index.html': `<!doctype html><title>${version}</title>` };
  for (let i = 0; i < 60; i++) files[`assets/chunk-${i}.js`] = `export const v${i} = "${i < 5 ? version : 'shared'}";`.padEnd(4000, ' ');
  const dist = await fakeDist(files, { app: 'bench', version });
  const out = join(dir, version);
  await writeDist(out, dist);
  await publishDirectory(out, { server: server.url, token: 'bench', channel: 'stable' });
  releases.push(dist.manifest.id);
}

const plan = await fetch(`${server.url}v1/check-in`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ client: 'bench-plan-sample', app: 'bench', channel: 'stable', release: releases[0], caps: { sync: true, periodicSync: false, compactPlans: true, ...(process.env.UPDRAFT_BENCH_REFS !== '0' ? { planRefs: true } : {}), swIds: true } }),
});
// The update answer the bench's clients get, as a static file: the like-for-like limit.
staticPlan = new Uint8Array(await plan.arrayBuffer());
const sample = JSON.parse(new TextDecoder().decode(staticPlan)) as { ref?: { doc: string } };
const planDoc = sample.ref?.doc ?? null;
const planDocBytes = planDoc ? (await (await fetch(`${server.url}${planDoc}`)).arrayBuffer()).byteLength : 0;

const clients = Number(process.env.UPDRAFT_BENCH_CLIENTS ?? 100_000);
const rssBefore = process.memoryUsage().rss;
const caps = { sync: true, periodicSync: false, swIds: true };
for (let i = 0; i < clients; i++) {
  await store.upsertClient({ id: `seed-client-${i}`, app: 'bench', channel: 'stable', release: releases[i % 2]!, staged: null, caps, lastSeen: Date.now() });
}
await store.flush();
const rssAfter = process.memoryUsage().rss;
console.log(JSON.stringify({ url: server.url, bareUrl, releases, planBytes: staticPlan.byteLength, planDoc, planDocBytes, clients, rssBeforeClients: rssBefore, rssAfterClients: rssAfter }));
process.on('SIGTERM', async () => {
  bare.close();
  await server.close();
  await store.close();
  process.exit(0);
});
