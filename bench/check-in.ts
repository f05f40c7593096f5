// Check-in throughput against the ceiling: the same server answering a small static JSON file, in
// the same run, 100 connections each. Ends with `check-in/static=R p99_ms=L`.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const DURATION = Number(process.env.UPDRAFT_BENCH_SECONDS ?? 10);
const CONNECTIONS = 100;

interface Ready { url: string; bareUrl: string; releases: string[]; planBytes: number; planDoc: string | null; planDocBytes: number; clients: number; rssBeforeClients: number; rssAfterClients: number }

// UPDRAFT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
const nodeArgs = (process.env.UPDRAFT_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
// UPDRAFT_BENCH_SERVER_CPU=0 (run the bench itself under `taskset -c 1`) gives the server and the
// load generator a core each. On this 2-core host that changed nothing (BENCHMARKS.md, ninth
// session); on a bigger machine it keeps autocannon off the server's cores.
const serverCpu = process.env.UPDRAFT_BENCH_SERVER_CPU;
const serverCommand = [process.execPath, ...nodeArgs, '--import', 'tsx', 'bench/check-in-server.ts'];
const child = serverCpu
  ? spawn('taskset', ['-c', serverCpu, ...serverCommand], { stdio: ['ignore', 'pipe', 'inherit'] })
  : spawn(serverCommand[0]!, serverCommand.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise<Ready>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Ready));
  child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));
}

// Half the clients are on the target (answer: current), half one release behind (answer: an update
// of 6 parts). They say what the worker says, `caps.compactPlans` and `caps.planRefs`: with the
// server's defaults the plan comes inline, ~1.9 KB in the compact form (its document is under
// `planRefMinBytes`). UPDRAFT_BENCH_REF_MIN_BYTES=0 has the server answer by reference instead (a
// ~0.35 KB answer naming the plan document, which each client fetches once: measured apart below).
// UPDRAFT_BENCH_REFS=0 leaves `planRefs` out. UPDRAFT_BENCH_MIX=current|update sends only one kind
// in the headline run; the runs "by answer" below measure each kind alone anyway.
type Mix = 'half' | 'current' | 'update';
const mix = (process.env.UPDRAFT_BENCH_MIX ?? 'half') as Mix;
const CLIENTS = 10_000;
const refs = process.env.UPDRAFT_BENCH_REFS !== '0';
const onTarget = (m: Mix, i: number) => (m === 'current' ? true : m === 'update' ? false : i % 2 === 1);
const state = (i: number, current: boolean) =>
  ({ client: `bench-client-${i}`, app: 'bench', channel: 'stable', release: ready.releases[current ? 1 : 0], caps: { sync: true, periodicSync: false, compactPlans: true, ...(refs ? { planRefs: true } : {}), swIds: true } } as Record<string, unknown>);
// The `recorded` acknowledgement each client gets for each of its two states (below).
const tokens: [string | undefined, string | undefined][] = Array.from({ length: CLIENTS }, () => [undefined, undefined]);
const bodiesFor = (m: Mix) => Array.from({ length: CLIENTS }, (_, i) => {
  const current = onTarget(m, i);
  const recorded = tokens[i]![current ? 1 : 0];
  return JSON.stringify(recorded ? { ...state(i, current), recorded } : state(i, current));
});

const common = { connections: CONNECTIONS, duration: DURATION, pipelining: 1 };
// UPDRAFT_BENCH_ACCEPT_ENCODING="gzip, deflate, br, zstd" asks for compressed answers, as browsers
// do (update answers of 1 KB and more are then brotli'd per request); autocannon asks for none.
const acceptEncoding = process.env.UPDRAFT_BENCH_ACCEPT_ENCODING;
const headers: Record<string, string> = { 'content-type': 'application/json', ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}) };
const staticUrl = `${ready.url}bench/static.json`;
await run({ ...common, url: staticUrl, duration: 2 }); // warm-up
const bareStatic = await run({ ...common, url: ready.bareUrl });
// Check-ins of mix `m` to `url`. Each connection cycles through its own 100 clients (10k distinct
// in all), with the tokens known when the run starts. The requests are built once per connection:
// a `setupRequest` per request made autocannon itself the bottleneck.
const posting = (url: string, m: Mix = mix, duration = DURATION) => {
  const bodies = bodiesFor(m);
  let connection = 0;
  const perConnection = () => {
    const first = (connection++ * 100) % bodies.length;
    return bodies.slice(first, first + 100).map((body) => ({ method: 'POST' as const, headers, body }));
  };
  return run({ ...common, duration, url, setupClient: (client: { setRequests(r: unknown[]): void }) => client.setRequests(perConnection()) } as autocannon.Options);
};
// The ceiling for a POST: read the body, answer a constant (no parsing, no store, no plan).
const echo = await posting(`${ready.url}bench/echo`);
// Each client checks in once first and keeps the `recorded` acknowledgement it gets, as a worker
// does, so its later check-ins skip the write of its unchanged record (a real fleet checking in
// hourly skips 5 in 6 with the default 6 h period; these clients check in several times a
// second). UPDRAFT_BENCH_RECORDED=0 sends none: every check-in is written. =fleet keeps it for 5
// clients in 6 only, so one check-in in six is written, as in a fleet checking in hourly.
const recordedMode = process.env.UPDRAFT_BENCH_RECORDED ?? '1';
if (recordedMode !== '0') {
  // After the static and post-ceiling runs, so their figures do not carry this pass's garbage.
  // Each client checks in once in each of its two states (on the target, one behind).
  for (let i = 0; i < CLIENTS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, k) => i + k).flatMap((n) => [true, false].map(async (current) => {
      const res = await fetch(`${ready.url}v1/check-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(state(n, current)) });
      const { recorded } = (await res.json()) as { recorded?: string };
      if (recorded && !(recordedMode === 'fleet' && n % 6 === 0)) tokens[n]![current ? 1 : 0] = recorded;
    })));
  }
}
const checkInUrl = `${ready.url}v1/check-in`;
await posting(checkInUrl, mix, 2); // warm-up
// The headline: static and check-in runs alternated, static-check-in-check-in-static, twice, each
// ROUND_SECONDS. Measured once each, 40 s apart, the ratio moved with whatever this host did in
// between: the same server's static file ran 54.6k/s at the start of one run and 47.7k/s at its end.
// Alternated, a drift over the run falls on both sides alike. The ratio is of the summed requests.
const ROUND_SECONDS = Math.max(1, Math.round(DURATION / 2));
const staticRuns: autocannon.Result[] = [];
const checkInRuns: autocannon.Result[] = [];
for (let round = 0; round < 2; round++) {
  staticRuns.push(await run({ ...common, url: staticUrl, duration: ROUND_SECONDS }));
  for (let k = 0; k < 2; k++) checkInRuns.push(await posting(checkInUrl, mix, ROUND_SECONDS));
  staticRuns.push(await run({ ...common, url: staticUrl, duration: ROUND_SECONDS }));
}
const perSecond = (runs: autocannon.Result[]) => runs.reduce((n, r) => n + r.requests.total, 0) / runs.reduce((t, r) => t + r.duration, 0);
const staticRate = perSecond(staticRuns);
const checkInRate = perSecond(checkInRuns);
const checkInP99 = Math.max(...checkInRuns.map((r) => r.latency.p99));
// By answer: only `current` answers (as small as the static file), then only plans, against a
// static file of a plan's size: the like-for-like limit for an answer of that size.
const byAnswer: [string, autocannon.Result, autocannon.Result][] = [];
if (process.env.UPDRAFT_BENCH_BY_ANSWER !== '0') {
  for (const m of ['current', 'update'] as const) {
    const result = await posting(checkInUrl, m);
    byAnswer.push([m, result, m === 'current' ? await run({ ...common, url: staticUrl }) : await run({ ...common, url: `${ready.url}bench/static-plan.json` })]);
  }
}
// UPDRAFT_BENCH_ABLATION=1: the check-in on bare node:http with parts of its work left out.
const ablation: [string, autocannon.Result][] = [];
if (process.env.UPDRAFT_BENCH_ABLATION === '1') {
  for (const [name, path] of [['read the body, answer a constant', 'echo'], ['+ parse and decide (no client record)', 'parse-decide'], ['+ queue the client record (never written)', 'parse-decide-queue']] as const) {
    ablation.push([name, await posting(`${ready.bareUrl}${path}`)]);
  }
  // The same check-ins as GETs, their fields in the query (no body to read).
  const bodies = bodiesFor(mix);
  let getConnection = 0;
  const gets = () => {
    const first = (getConnection++ * 100) % bodies.length;
    return bodies.slice(first, first + 100).map((body) => {
      const b = JSON.parse(body) as { client: string; app: string; channel: string; release: string; caps: { sync: boolean; periodicSync: boolean } };
      const q = new URLSearchParams({ client: b.client, app: b.app, channel: b.channel, release: b.release, sync: b.caps.sync ? '1' : '0', periodicSync: b.caps.periodicSync ? '1' : '0' });
      return { method: 'GET' as const, path: `/get-parse-decide?${q}` };
    });
  };
  ablation.push(['GET, fields in the query: parse and decide (no client record)', await run({ ...common, url: ready.bareUrl, setupClient: (client: { setRequests(r: unknown[]): void }) => client.setRequests(gets()) } as autocannon.Options)]);
}
// The plan document an update answer names: one GET per client per update (not per check-in),
// immutable, so a browser or CDN cache answers the rest.
const docRun = ready.planDoc ? await run({ ...common, url: `${ready.url}${ready.planDoc}` }) : null;
child.kill('SIGTERM');

const non2xx = [...checkInRuns, ...byAnswer.map(([, r]) => r), ...(docRun ? [docRun] : [])].reduce((n, r) => n + r.non2xx + r.errors, 0);
const ratio = checkInRate / staticRate;
const rates = (runs: autocannon.Result[]) => runs.map((r) => (r.requests.total / r.duration / 1000).toFixed(1)).join(' ');
console.log(`static:   ${staticRate.toFixed(0)} req/s, p99 ${Math.max(...staticRuns.map((r) => r.latency.p99))} ms (runs, k/s: ${rates(staticRuns)})`);
console.log(`static from bare node:http (no framework): ${bareStatic.requests.average.toFixed(0)} req/s; check-in/bare=${(checkInRate / bareStatic.requests.average).toFixed(2)}`);
console.log(`post-ceiling (read body, constant answer): ${echo.requests.average.toFixed(0)} req/s, p99 ${echo.latency.p99} ms`);
console.log(`check-in: ${checkInRate.toFixed(0)} req/s, p99 ${checkInP99} ms, non-2xx/errors ${non2xx} (runs, k/s: ${rates(checkInRuns)})`);
for (const [m, r, limit] of byAnswer) {
  console.log(`check-in, ${m === 'current' ? '`current` answers only' : ready.planDoc ? 'updates only (by reference)' : 'plans only'}: ${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms, against ${m === 'current' ? 'the static file' : `a static file of a plan's size (${ready.planBytes} B)`} ${limit.requests.average.toFixed(0)} req/s: ratio ${(r.requests.average / limit.requests.average).toFixed(2)}`);
}
if (docRun) console.log(`plan document (${ready.planDocBytes} B, one GET per client per update): ${docRun.requests.average.toFixed(0)} req/s, p99 ${docRun.latency.p99} ms`);
for (const [name, r] of ablation) console.log(`ablation, bare node:http: ${name}: ${r.requests.average.toFixed(0)} req/s${r.non2xx + r.errors ? `, non-2xx/errors ${r.non2xx + r.errors}` : ""}`);
if (ablation.length) console.log(`ablation: the whole check-in (the lane, client record written behind to SQLite): ${checkInRate.toFixed(0)} req/s`);
console.log(`memory for ${ready.clients} clients' state: ${((ready.rssAfterClients - ready.rssBeforeClients) / 1e6).toFixed(1)} MB RSS growth`);
console.log(`check-in/static=${ratio.toFixed(2)} p99_ms=${checkInP99}`);
if (non2xx > 0) process.exitCode = 1;
