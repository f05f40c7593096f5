// `npm run simulate -- --clients 1000000`: a discrete-event simulation of one rollout to a fleet,
// under a download budget per source, in two strategies in the same run:
//   planned — the server's real code decides: chooseTarget → planTemplate (computed once, as the
//             check-in cache does) → bookSlots/planSlots on a MemorySlotLedger (the in-memory
//             ledger, not SQLite); each client fetches its parts at the notBefore times and from
//             the first source it was given. A failed fetch is retried after a jittered backoff,
//             as the SW does (unbooked: the planner's headroom absorbs retries); after
//             --max-attempts the plan fails and the next check-in books afresh.
//   naive   — every client downloads everything on its first check-in from the first source (the
//             CDN), and retries with random exponential backoff (Retry-After when refused).
// Sources shed like server/load-shedding.ts: beyond max-in-flight requests at once they answer
// 503 with a jittered Retry-After (the real jitteredSeconds). Transfers run at each client's own
// bandwidth; a transfer fails part-way with probability --fail.
// Ends with one line per strategy: `simulate <strategy>: peak/budget=P makespan/bound=M failed=F`.
import { parseArgs } from 'node:util';
import type { ChannelState, ReleaseManifest } from '../protocol/index.js';
import { bookSlots } from '../server/check-in.js';
import { jitteredSeconds } from '../server/load-shedding.js';
import { chooseTarget, planTemplate, type KnownRelease, type PlanTemplate } from '../server/planner.js';
import { MemorySlotLedger, type Budget } from '../server/slot-ledger.js';

const { values: a } = parseArgs({
  options: {
    clients: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    'interval-s': { type: 'string', default: '3600' },
    'origin-mbps': { type: 'string', default: '160' },
    'origin-rps': { type: 'string', default: '400' },
    'cdn-mbps': { type: 'string', default: '640' },
    'cdn-rps': { type: 'string', default: '4000' },
    'client-mbps': { type: 'string', default: '20' },
    fail: { type: 'string', default: '0.01' },
    'origin-max-in-flight': { type: 'string', default: '1024' },
    'cdn-max-in-flight': { type: 'string', default: '100000' },
    'max-attempts': { type: 'string', default: '6' },
    strategies: { type: 'string', default: 'planned,naive' },
    'window-s': { type: 'string', default: '10' },
  },
});
const N = Number(a.clients);
const INTERVAL = Number(a['interval-s']);
const FAIL = Number(a.fail);
const MAX_ATTEMPTS = Number(a['max-attempts']);
const WINDOW = Number(a['window-s']);
const T0 = 1_800_000_000_000;
const mb = (mbps: string | undefined) => (Number(mbps) * 1e6) / 8;
const CDN = 'https://cdn.example/';
const ORIGIN = 'https://origin.example/';
const capacity: Record<string, Budget> = {
  [CDN]: { bytesPerSecond: mb(a['cdn-mbps']), requestsPerSecond: Number(a['cdn-rps']) },
  origin: { bytesPerSecond: mb(a['origin-mbps']), requestsPerSecond: Number(a['origin-rps']) },
};
const SOURCES = [CDN, 'origin']; // the template's sourceKeys order: CDN first, origin last

// ---- Deterministic randomness (mulberry32), so runs are comparable.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- Three releases of one app: 60 assets; 6 change each release (≈ 0.9 MB), so a client one
// release behind fetches 6 parts and one two behind fetches 12.
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const SIZES = [400_000, 250_000, 120_000, 80_000, 40_000, 10_000];
function release(v: number): ReleaseManifest {
  const assets = Array.from({ length: 60 }, (_, i) => {
    const changesAt = i < 6 ? v : i < 12 ? Math.min(v, 1) : 0;
    return { path: `assets/a${i}.js`, sha256: hex(i * 1000 + changesAt, 64), size: i < 12 ? SIZES[i % 6]! : 20_000, type: 'text/javascript' };
  });
  return { id: hex(0xa0 + v, 16), app: 'sim', version: `${v}.0.0`, createdAt: '2026-01-01T00:00:00Z', entry: '/index.html', assets } as ReleaseManifest;
}
const releases = new Map<string, KnownRelease>([0, 1, 2].map((v) => [release(v).id, { manifest: release(v), seq: v + 1 }]));
const [R0, R1, R2] = [...releases.keys()] as [string, string, string];
const channel: ChannelState = { name: 'stable', app: 'sim', release: R2, previous: R1, percent: 100, activation: 'next-navigation', paused: false, pausedReason: null, minimum: null, updatedAt: T0 };

// ---- An efficient event queue: a binary heap of (time, client) in typed arrays, one event per client.
class EventQueue {
  #t = new Float64Array(1024);
  #c = new Int32Array(1024);
  size = 0;
  push(time: number, client: number) {
    if (this.size === this.#t.length) {
      const t = new Float64Array(this.size * 2); t.set(this.#t); this.#t = t;
      const c = new Int32Array(this.size * 2); c.set(this.#c); this.#c = c;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#t[p]! <= time) break;
      this.#t[i] = this.#t[p]!; this.#c[i] = this.#c[p]!; i = p;
    }
    this.#t[i] = time; this.#c[i] = client;
  }
  /** Pops the earliest event; `time` holds its time afterwards. */
  time = 0;
  pop(): number {
    const client = this.#c[0]!;
    this.time = this.#t[0]!;
    const t = this.#t[--this.size]!, c = this.#c[this.size]!;
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= this.size) break;
      if (m + 1 < this.size && this.#t[m + 1]! < this.#t[m]!) m++;
      if (this.#t[m]! >= t) break;
      this.#t[i] = this.#t[m]!; this.#c[i] = this.#c[m]!; i = m;
    }
    this.#t[i] = t; this.#c[i] = c;
    return client;
  }
}

interface Result { strategy: string; peak: number; peak1s: number; peakBytes: number; peakRequests: number; makespan: number; bound: number; failed: number; gaveUp: number; checkIns: number; bytes: number; refused: number; ms: number }

function simulate(strategy: 'planned' | 'naive'): Result {
  const started = performance.now();
  const random = rng(Number(a.seed));
  const ledger = new MemorySlotLedger(1000);
  const templates = new Map<string, PlanTemplate>();
  const templateFor = (from: string) => {
    let t = templates.get(from);
    if (!t) templates.set(from, (t = planTemplate({ app: 'sim', channel, from, to: R2, releases, origin: ORIGIN, cdn: [CDN] })!));
    return t;
  };
  // Per-client state in typed arrays (1M clients fit in a few hundred MB).
  const from = new Uint8Array(N); // 0: two releases behind, 1: one behind
  const bw = new Float64Array(N); // bytes/s
  const phase = new Uint8Array(N); // 0 idle until check-in, 1 waiting for a part's start, 2 transferring, 3 done
  const part = new Int16Array(N);
  const attempt = new Uint8Array(N);
  const nextCheckIn = new Float64Array(N);
  const checkIns = new Uint32Array(N);
  const transferEnd = new Float64Array(N);
  const transferFails = new Uint8Array(N);
  const transferSource = new Uint8Array(N);
  const transferRate = new Float64Array(N);
  const plans: (readonly number[] | null)[] = new Array(N).fill(null); // notBefore (s) per part
  const firsts: (readonly number[] | null)[] = new Array(N).fill(null);
  const queue = new EventQueue();
  let totalNeeded = 0;
  for (let c = 0; c < N; c++) {
    from[c] = random() < 0.2 ? 0 : 1;
    // Log-normal bandwidth around --client-mbps, clamped to [1, 200] Mbit/s.
    const z = Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
    bw[c] = (Math.min(200, Math.max(1, Number(a['client-mbps']) * Math.exp(0.7 * z))) * 1e6) / 8;
    totalNeeded += templateFor(from[c] ? R1 : R0).fetches.reduce((n, f) => n + f.size, 0);
    nextCheckIn[c] = random() * INTERVAL; // first check-in after the release, spread over one interval
    queue.push(nextCheckIn[c]!, c);
  }
  const budgetBytes = SOURCES.map((s) => capacity[s]!.bytesPerSecond!);
  const budgetReqs = SOURCES.map((s) => capacity[s]!.requestsPerSecond!);
  const bound = totalNeeded / budgetBytes.reduce((x, y) => x + y, 0);
  const horizon = Math.ceil(bound * 4 + INTERVAL * 4);
  const loadBytes = SOURCES.map(() => new Float64Array(horizon + 2));
  const loadReqs = SOURCES.map(() => new Float64Array(horizon + 2));
  const inFlight = SOURCES.map(() => 0); // transfers running now
  const maxInFlight = [Number(a['cdn-max-in-flight']), Number(a['origin-max-in-flight'])];
  const finishedAt = new Float64Array(N);
  let lastSlot = 0;
  let makespan = 0, gaveUp = 0, bytes = 0, refused = 0, done = 0;

  const account = (s: number, t0: number, t1: number, rate: number) => {
    for (let sec = Math.floor(t0); sec < t1 && sec <= horizon; sec++) {
      const overlap = Math.min(t1, sec + 1) - Math.max(t0, sec);
      loadBytes[s]![sec]! += overlap * rate;
    }
    bytes += (t1 - t0) * rate;
  };
  const schedule = (c: number, at: number) => queue.push(Math.min(at, nextCheckIn[c]!), c);
  const backoff = (n: number) => Math.min(3600, 2 ** n) * (0.5 + random());

  /** Check-in: the server's answer for this client now. */
  const checkIn = (c: number, now: number) => {
    checkIns[c]!++;
    nextCheckIn[c] = now + INTERVAL;
    const t = templateFor(from[c] ? R1 : R0);
    if (!chooseTarget({ client: `c${c}`, app: 'sim', channel: 'stable', release: from[c] ? R1 : R0, caps: { sync: true, periodicSync: false } }, channel)) return;
    if (strategy === 'planned') {
      const slots = bookSlots(ledger, capacity, t, `sim\n${c}`, T0 + now * 1000, T0 + now * 1000);
      plans[c] = slots.notBefore.map((ms) => (ms - T0) / 1000);
      for (const t of plans[c]!) lastSlot = Math.max(lastSlot, t);
      firsts[c] = slots.sourceFirst;
    } else if (plans[c] === null) {
      plans[c] = t.fetches.map(() => now);
      firsts[c] = t.fetches.map(() => 0);
    } else return; // naive: one plan until it succeeds or gives up
    if (phase[c] === 0) {
      phase[c] = 1;
      attempt[c] = 0;
    }
  };

  const startPart = (c: number, now: number) => {
    const t = templateFor(from[c] ? R1 : R0);
    const s = firsts[c]![part[c]!]!;
    const sec = Math.floor(now);
    if (sec <= horizon) loadReqs[s]![sec]!++;
    if (inFlight[s]! >= maxInFlight[s]!) {
      // Shed: 503 with a jittered Retry-After, like the server's inFlightLimit.
      refused++;
      const retryAfter = jitteredSeconds(5, random);
      return retry(c, now, strategy === 'naive' ? Math.max(retryAfter, backoff(attempt[c]!)) : retryAfter);
    }
    const size = t.fetches[part[c]!]!.size;
    const rate = bw[c]!;
    const fails = random() < FAIL;
    transferFails[c] = fails ? 1 : 0;
    transferSource[c] = s;
    transferRate[c] = rate;
    transferEnd[c] = now + (size / rate) * (fails ? random() : 1);
    inFlight[s]!++;
    account(s, now, transferEnd[c]!, rate);
    phase[c] = 2;
    queue.push(transferEnd[c]!, c); // a transfer is not interrupted by the periodic check-in
  };

  const retry = (c: number, now: number, after: number) => {
    attempt[c]!++;
    if (attempt[c]! >= MAX_ATTEMPTS) {
      // The plan fails; the client starts over at its next check-in.
      gaveUp++;
      plans[c] = null;
      phase[c] = 0;
      part[c] = 0;
      return queue.push(nextCheckIn[c]!, c);
    }
    phase[c] = 1;
    plans[c] = plans[c]!.map((t, i) => (i === part[c] ? now + after : t));
    schedule(c, now + after);
  };

  const endTransfer = (c: number, now: number) => {
    const s = transferSource[c]!;
    inFlight[s]!--;
    if (transferFails[c]) return retry(c, now, backoff(attempt[c]!));
    attempt[c] = 0;
    part[c]!++;
    if (part[c] === plans[c]!.length) {
      phase[c] = 3;
      done++;
      makespan = Math.max(makespan, now);
      finishedAt[c] = now;
      return;
    }
    phase[c] = 1;
    schedule(c, Math.max(now, plans[c]![part[c]!]!));
  };

  while (queue.size > 0) {
    const c = queue.pop();
    const now = queue.time;
    if (now > horizon) break;
    if (phase[c] === 2) {
      if (now >= transferEnd[c]!) endTransfer(c, now);
      continue;
    }
    if (phase[c] === 3) continue;
    if (now >= nextCheckIn[c]!) {
      checkIn(c, now);
      if (phase[c] === 0) { queue.push(nextCheckIn[c]!, c); continue; }
    }
    const due = plans[c]![part[c]!]!;
    if (now >= due) startPart(c, now);
    else schedule(c, due);
  }

  // Peak over sliding windows of WINDOW seconds (and the 1 s peak, reported alongside).
  let peakBytes = 0, peakRequests = 0, peak1s = 0;
  for (let s = 0; s < SOURCES.length; s++) {
    let wb = 0, wr = 0;
    for (let sec = 0; sec <= horizon; sec++) {
      wb += loadBytes[s]![sec]!; wr += loadReqs[s]![sec]!;
      if (sec >= WINDOW) { wb -= loadBytes[s]![sec - WINDOW]!; wr -= loadReqs[s]![sec - WINDOW]!; }
      peakBytes = Math.max(peakBytes, wb / WINDOW / budgetBytes[s]!);
      peakRequests = Math.max(peakRequests, wr / WINDOW / budgetReqs[s]!);
      peak1s = Math.max(peak1s, loadBytes[s]![sec]! / budgetBytes[s]!, loadReqs[s]![sec]! / budgetReqs[s]!);
    }
  }
  const total = checkIns.reduce((n, x) => n + x, 0);
  if (process.env.SIM_DEBUG) {
    const sorted = Float64Array.from(finishedAt).sort();
    const q = (p: number) => (sorted[Math.floor(p * (N - 1))]! / bound).toFixed(3);
    console.log(`  ${strategy}: finished ÷ bound at p50 ${q(0.5)} p99 ${q(0.99)} p99.9 ${q(0.999)} max ${q(1)}; last slot ÷ bound ${(lastSlot / bound).toFixed(3)}`);
  }
  return {
    strategy, peak: Math.max(peakBytes, peakRequests), peak1s, peakBytes, peakRequests, makespan: done === N ? makespan : Infinity, bound,
    failed: N - done, gaveUp, checkIns: total / N, bytes, refused, ms: performance.now() - started,
  };
}

console.log(`${N} clients; budget: CDN ${a['cdn-mbps']} Mbit/s + ${a['cdn-rps']} req/s, origin ${a['origin-mbps']} Mbit/s + ${a['origin-rps']} req/s;`
  + ` clients ~${a['client-mbps']} Mbit/s, fetch failure ${FAIL}, check-in every ${INTERVAL} s`);
const results: Result[] = [];
for (const s of a.strategies!.split(',') as ('planned' | 'naive')[]) {
  const r = simulate(s);
  results.push(r);
  console.log(`${s}: peak bytes/budget ${r.peakBytes.toFixed(3)}, peak requests/budget ${r.peakRequests.toFixed(3)} (${WINDOW} s windows; 1 s peak ${r.peak1s.toFixed(3)}), makespan ${(r.makespan / 3600).toFixed(2)} h`
    + ` vs bound ${(r.bound / 3600).toFixed(2)} h, bytes sent ÷ needed ${(r.bytes / (r.bound * (budgetSum()))).toFixed(3)},`
    + ` refused ${r.refused}, plans given up ${r.gaveUp}, check-ins/client ${r.checkIns.toFixed(2)}, ${(r.ms / 1000).toFixed(1)} s, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
}
function budgetSum() {
  return SOURCES.reduce((n, s) => n + capacity[s]!.bytesPerSecond!, 0);
}
for (const r of results) {
  console.log(`simulate ${r.strategy}: peak/budget=${r.peak.toFixed(2)} makespan/bound=${Number.isFinite(r.makespan) ? (r.makespan / r.bound).toFixed(3) : 'inf'} failed=${r.failed}`);
}
