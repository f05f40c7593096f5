// Check-in throughput against the ceiling: the same server answering a small static JSON file, in
// the same run, 100 connections each. Ends with `check-in/static=R p99_ms=L`.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const DURATION = Number(process.env.UPDRAFT_BENCH_SECONDS ?? 10);
const CONNECTIONS = 100;

interface Ready { url: string; releases: string[]; clients: number; rssBeforeClients: number; rssAfterClients: number }

const child = spawn(process.execPath, ['--import', 'tsx', 'bench/check-in-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise<Ready>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Ready));
  child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));
}

// Half the clients are on the target (answer: current), half one release behind (answer: a plan of 5 parts).
const bodies = Array.from({ length: 10_000 }, (_, i) =>
  JSON.stringify({ client: `bench-client-${i}`, app: 'bench', channel: 'stable', release: ready.releases[i % 2], caps: { sync: true, periodicSync: false } }),
);
let next = 0;

const common = { connections: CONNECTIONS, duration: DURATION, pipelining: 1 };
await run({ ...common, url: `${ready.url}bench/static.json`, duration: 2 }); // warm-up
const staticResult = await run({ ...common, url: `${ready.url}bench/static.json` });
await run({ ...common, url: `${ready.url}v1/check-in`, method: 'POST', duration: 2, body: bodies[0] }); // warm-up
const checkIn = await run({
  ...common,
  url: `${ready.url}v1/check-in`,
  requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
});
child.kill('SIGTERM');

const non2xx = checkIn.non2xx + checkIn.errors;
const ratio = checkIn.requests.average / staticResult.requests.average;
console.log(`static:   ${staticResult.requests.average.toFixed(0)} req/s, p99 ${staticResult.latency.p99} ms`);
console.log(`check-in: ${checkIn.requests.average.toFixed(0)} req/s, p99 ${checkIn.latency.p99} ms, non-2xx/errors ${non2xx}`);
console.log(`memory for ${ready.clients} clients' state: ${((ready.rssAfterClients - ready.rssBeforeClients) / 1e6).toFixed(1)} MB RSS growth`);
console.log(`check-in/static=${ratio.toFixed(2)} p99_ms=${checkIn.latency.p99}`);
if (non2xx > 0) process.exitCode = 1;
