import { randomBytes } from 'node:crypto';
import { CHECK_IN_INTERVAL_RANGE_S } from '../protocol/index.js';
import { AdminTokens } from './admin-auth.js';
import { SCOPES, type ConfigToken } from './admin-token.js';
import type { AutoPauseOptions } from './auto-pause.js';
import { resolveSecurityHeaders, type SecurityHeadersOptions } from './security-headers.js';
import type { BlobStore } from './blob-store.js';
import { DeltaQueue } from './delta-queue.js';
import { DeltaStore } from './delta-store.js';
import { CheckInCache } from './check-in-cache.js';
import type { PlanSigner } from './plan-signer.js';
import type { PlannerOptions } from './planner.js';
import { MemorySlotLedger, type Budget, type SharedSlotLedger, type SlotLedger } from './slot-ledger.js';
import type { Store } from './store.js';

export type { AutoPauseOptions, Budget, SecurityHeadersOptions };

export interface UpdateServerOptions {
  store: Store;
  blobs: BlobStore;
  /**
   * A bearer token for `/v1/admin/*` holding every scope (`publish`, `rollout`, `read`): the
   * single-token setup of earlier versions. Tokens from `updraft tokens create` (in the store) and
   * `tokens` are accepted too; with none of them, admin routes answer 401 `unauthorized`.
   */
  token?: string;
  /** More bearer tokens, each with its scopes (`updraft serve --token-file`). Kept only as digests. */
  tokens?: ConfigToken[];
  /** CDN base URLs mirroring `v1/blobs/`, listed before the origin in fetch sources. @default [] */
  cdn?: string[];
  /**
   * This server's public base URL (e.g. `https://example.com/updraft/`), for fetch sources.
   * @default derived from each check-in's request URL, which is wrong behind a rewriting proxy
   */
  publicUrl?: string;
  /** Seconds between check-ins, an integer in `OPTION_RANGES.checkInInterval` ([1, 2147483]). @default 3600 */
  checkInInterval?: number;
  /** Downloads of a plan start at a per-client offset in [0, spreadMs); an integer, at most `maxSpreadMs` (half `planTtlMs`, and without `capacity` the check-in interval). @default 0 */
  spreadMs?: number;
  /** Plan lifetime, ms, a positive integer. @default 86_400_000 (24 h) */
  planTtlMs?: number;
  /**
   * A worker that says `caps.planRefs` gets its update by reference (the check-in answer names the
   * plan document, which it fetches) when the document is at least this many bytes, and inline
   * otherwise. A reference costs the client one more request (~0.5 KB of headers and a round
   * trip) and saves the document in every later update answer and the server's work of sending
   * it: it pays for large plans (a first install's whole manifest, hundreds of parts), not for a
   * few changed files (`npm run bench:bytes`: 0.209 → 0.274 of Workbox's bytes by reference).
   * `0` answers every such worker by reference. @default 8192
   */
  planRefMinBytes?: number;
  /** Serve the app itself at `/` from a channel's release; `false` for an update API only. @default { channel: 'stable' } */
  serve?: { app?: string; channel?: string } | false;
  /** Max body of public JSON routes (check-in, reports), bytes, a positive integer. @default 1_048_576 */
  bodyLimit?: number;
  /**
   * How long the body of a check-in, a report batch or the dashboard's sign-in form may take to
   * arrive after its headers, ms: past it the request is answered 408 `timeout` and its connection
   * closed, so a client trickling its body (slowloris) gives back its place among `maxInFlight` at
   * once instead of after Node's `requestTimeout` (300 s). These bodies are a few KB; admin JSON
   * and part uploads, which may be large, are held to `uploadMinRate` over windows of this length
   * instead (Node only: body-deadline.ts). An integer in [1, 300000], else a `TypeError`. @default 10_000
   */
  bodyTimeoutMs?: number;
  /**
   * The slowest an admin body (a part upload, a release manifest) may come, bytes per second,
   * over each window of `bodyTimeoutMs`: slower, it is answered 408 `timeout` and its connection
   * closed. A total deadline would cut off a large part on a slow uplink (Node's `requestTimeout`
   * did at 300 s, which is why `startServer` turns it off: every route that reads a body has a
   * deadline or this rate). A positive integer, else a `TypeError`. @default 1024
   */
  uploadMinRate?: number;
  /** Max admin JSON body (release manifest, missing-parts list, channel change), bytes, a positive integer; a manifest of 100k assets is ~20 MB. @default 67_108_864 (64 MiB) */
  adminBodyLimit?: number;
  /** Max size of one admin blob upload (`PUT v1/admin/blobs/:sha256`), bytes; uploads stream to disk. @default 536_870_912 (512 MiB) */
  uploadLimit?: number;
  /**
   * Check-in and blob requests in progress at once (a blob counts until its body is sent);
   * beyond it they answer 503 `overloaded` with a jittered `Retry-After`. A non-negative
   * integer, else a `TypeError`. @default 1024
   */
  maxInFlight?: number;
  /**
   * Base `Retry-After` of a 503, seconds; each answer is spread over [base, 2 × base] (at least 1).
   * From 0 to 43 200 (twice that is a day, the most a worker honours), else a `TypeError`. @default 5
   */
  retryAfter?: number;
  /**
   * Check-ins one client (by its id) may make per window; beyond it they answer 429
   * `too_many_requests` with `Retry-After` until the window ends. `false` turns it off. `max` a
   * positive integer, `windowMs` an integer in [1, 86_400_000] (a day, the longest Retry-After a
   * worker honours), else a `TypeError`.
   * @default { max: 60, windowMs: 60_000 }
   */
  clientCheckIns?: { max: number; windowMs: number } | false;
  /**
   * Report batches one client (by the first report's app and client id) may send per window, as
   * `clientCheckIns`: beyond it, 429 `too_many_requests` with `Retry-After`. A SW sends a few per
   * plan; this stops one looping client from filling the reports table. `false` turns it off.
   * @default { max: 60, windowMs: 60_000 }
   */
  clientReports?: { max: number; windowMs: number } | false;
  /** Headers of the served app (CSP, Referrer-Policy, CORP); the API's own are fixed. See `SecurityHeadersOptions`. */
  securityHeaders?: SecurityHeadersOptions;
  /**
   * Download budget per source: `origin` (this server) and each CDN base URL as given in `cdn`.
   * With it, each plan's fetches get `notBefore` times (and a first source) booked so the expected
   * load of every source stays under its budget and the rollout ends as early as it allows; a
   * source missing here is unlimited. `updraft serve --capacity JSON`.
   * @default none: every fetch starts at the client's spread offset
   */
  capacity?: Record<string, Budget>;
  /**
   * Where slots are booked. Servers sharing one PostgreSQL need a shared one (`PostgresSlotLedger`),
   * which `startServer` uses by itself when it opens a PostgreSQL store and `capacity` is set.
   * @default in memory, 1 s buckets
   */
  slotLedger?: SlotLedger | SharedSlotLedger;
  /** How long a cached check-in answer may go without re-reading its channel, ms, a non-negative integer. @default 1000 */
  checkInCacheMs?: number;
  /**
   * Pause a channel by itself when the failure rate of its target crosses `threshold` (0-1):
   * distinct clients that reported `failed` or `boot-failed` over those that reported
   * `downloaded`, `activated` or `failed` for it, once there are `minSample` of those. Checked as
   * reports arrive; the reason shows in `updraft status`. `false` turns it off.
   * @default { threshold: 0.2, minSample: 20 }
   */
  autoPause?: AutoPauseOptions | false;
  /**
   * Signs every plan (Ed25519, `planStatement`): build with `createPlanSigner(await
   * Promise.all(pems.map(loadSigningKey)))`; `updraft serve --signing-key FILE` does it. Every
   * signer's key signs, side by side, during a key rotation.
   * @default none: plans go out unsigned, and a SW built with `publicKeys` refuses them
   */
  signer?: PlanSigner | null;
  /**
   * Per-part deltas: after a publish (which does not wait for them), the server computes a Fossil
   * delta from each changed part's predecessor (same file name minus the build hash) in the
   * `history` previous releases of the app, for parts up to `maxBytes`, one pair at a time, each
   * given up after `maxMs` of computing (off the thread that serves requests; files that take
   * longer share too little to be worth a delta); until a delta is stored, plans fetch that part
   * whole. Pending deltas survive a restart (delta-queue.ts). Plans offer one
   * when it is at most half the compressed part. A delta of at most `inlineBytes` travels inside
   * the plan (a `data:` URL) instead of by its own request. What the server learnt of the deltas
   * it offers (sizes, and the bytes of inline ones) stays in memory up to `cacheBytes`, the least
   * recently used dropped first. `false` computes and offers none. Integers: `maxMs` in
   * [1, 2^31 − 1], `inlineBytes` ≥ 0, the rest ≥ 1, else a `TypeError`.
   * @default { history: 3, maxBytes: 8_388_608, maxMs: 5000, inlineBytes: 1024, cacheBytes: 67_108_864 }
   */
  deltas?: { history?: number; maxBytes?: number; maxMs?: number; inlineBytes?: number; cacheBytes?: number } | false;
  /**
   * How long an unchanged client's record stands before a check-in rewrites it, ms: the
   * resolution of its `lastSeen`. Each answer carries `recorded`, an acknowledgement of the state
   * this server process recorded (channel, releases, sync capabilities) in this period; a check-in
   * that sends it back unchanged is not written again. A restarted server acknowledges nothing
   * from before, so every client is written once more. `0` writes every check-in.
   * @default 21_600_000 (6 h)
   */
  clientRecordMs?: number;
  /** Clock, epoch ms; tests inject a fixed one. @default Date.now */
  now?: () => number;
}

export interface ResolvedOptions {
  store: Store;
  blobs: BlobStore;
  tokens: AdminTokens;
  cdn: string[];
  publicUrl: string | null;
  checkInInterval: number;
  spreadMs: number;
  planTtlMs: number;
  /** The three above, as the planner takes them: one object, not one per check-in. */
  planner: PlannerOptions;
  planRefMinBytes: number;
  serve: { app: string | null; channel: string } | false;
  bodyLimit: number;
  bodyTimeoutMs: number;
  uploadMinRate: number;
  adminBodyLimit: number;
  uploadLimit: number;
  maxInFlight: number;
  retryAfter: number;
  clientCheckIns: { max: number; windowMs: number } | false;
  clientReports: { max: number; windowMs: number } | false;
  securityHeaders: SecurityHeadersOptions;
  capacity: Record<string, Budget> | null;
  slotLedger: SlotLedger | SharedSlotLedger;
  checkInCache: CheckInCache;
  autoPause: AutoPauseOptions | false;
  signer: PlanSigner | null;
  /** `queue` computes them after each publish (delta-queue.ts). */
  deltas: { store: DeltaStore; queue: DeltaQueue; history: number; maxBytes: number; maxMs: number; inlineBytes: number } | false;
  clientRecordMs: number;
  /** Random per resolved server: a `recorded` token from another process or an earlier start never matches. */
  recordEpoch: string;
  now: () => number;
}

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/** The default check-in interval, seconds. */
export const DEFAULT_CHECK_IN_INTERVAL = 3600;
/** The default plan lifetime, ms (24 h). */
export const DEFAULT_PLAN_TTL_MS = 86_400_000;
/** `bodyTimeoutMs`'s range: Node's default `requestTimeout` (300 s) at most; a longer wait for a few KB is no deadline. */
const BODY_TIMEOUT_RANGE_MS = [1, 300_000] as const;

/**
 * The ranges of the numeric options `updraft serve` has flags for, all integers; the CLI checks
 * its flags against the same. `spreadMs`'s depends on two others: `maxSpreadMs`.
 */
export const OPTION_RANGES = {
  // Seconds; why these bounds: protocol/check-in.ts.
  checkInInterval: CHECK_IN_INTERVAL_RANGE_S,
  planRefMinBytes: [0, Number.MAX_SAFE_INTEGER],
  uploadLimit: [1, Number.MAX_SAFE_INTEGER],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The longest `spreadMs`, ms. A client's downloads start up to `spreadMs` after its plan is issued:
 * - and must end before the plan expires (`planTtlMs`; an expired plan is reported `failed`,
 *   `plan_expired`, which the automatic pause counts): half the lifetime leaves every client at
 *   least the other half;
 * - without `capacity`, a worker checking in again while its plan waits gets a new plan, its
 *   downloads offset anew from then (planner.ts `spreadStart`): an offset longer than the check-in
 *   interval is never reached, and that client never updates. With it, the client keeps the slots
 *   it was given (check-in.ts `bookSlots`).
 */
export function maxSpreadMs(checkInInterval: number, planTtlMs: number, capacity: boolean): number {
  const half = Math.floor(planTtlMs / 2);
  return capacity ? half : Math.min(checkInInterval * 1000, half);
}

/** `value` (of option `name`) if it is an integer in [min, max], else a TypeError naming both. */
export function integerIn(name: string, value: number, [min, max]: readonly [number, number], why = ''): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw new TypeError(`${name} must be an integer in [${min}, ${max}]${why}, got ${value}`);
  return value;
}

export function resolveOptions(o: UpdateServerOptions): ResolvedOptions {
  // Checked before the caches and the queue are built on them.
  const d = o.deltas === false ? null : resolveDeltas(o.deltas ?? {});
  const checkInCacheMs = integerIn('checkInCacheMs', o.checkInCacheMs ?? 1000, [0, SAFE]);
  const store = d && new DeltaStore(o.blobs, d);
  const inlineBytes = d?.inlineBytes ?? 0;
  const checkInCache = new CheckInCache({ store: o.store, maxAgeMs: checkInCacheMs, deltas: store, inlineDeltaBytes: inlineBytes });
  const deltas = store === null || d === null ? false : {
    store, history: d.history, maxBytes: d.maxBytes, maxMs: d.maxMs, inlineBytes,
    // A new delta changes the plans of its app only: the other apps' cached answers stay.
    queue: new DeltaQueue({ store: o.store, deltas: store, history: d.history, maxBytes: d.maxBytes, maxMs: d.maxMs, onDelta: (app) => checkInCache.invalidateApp(app) }),
  };
  // Each default written once: the three fields and the planner's object are the same values.
  // Checked before anything is built: a bad value would otherwise go out in every answer (NaN
  // makes the check-in answer invalid JSON).
  const planTtlMs = integerIn('planTtlMs', o.planTtlMs ?? DEFAULT_PLAN_TTL_MS, [1, Number.MAX_SAFE_INTEGER]);
  const checkInInterval = integerIn('checkInInterval', o.checkInInterval ?? DEFAULT_CHECK_IN_INTERVAL, OPTION_RANGES.checkInInterval);
  const spreadMs = integerIn('spreadMs', o.spreadMs ?? 0, [0, maxSpreadMs(checkInInterval, planTtlMs, !!o.capacity)],
    o.capacity ? ' (at most half planTtlMs)' : ' (at most checkInInterval in ms, without capacity, and half planTtlMs)');
  const planner: PlannerOptions = { checkInInterval, spreadMs, planTtlMs };
  const planRefMinBytes = integerIn('planRefMinBytes', o.planRefMinBytes ?? 8192, OPTION_RANGES.planRefMinBytes);
  const uploadLimit = integerIn('uploadLimit', o.uploadLimit ?? 512 * 1024 * 1024, OPTION_RANGES.uploadLimit);
  return {
    store: o.store,
    blobs: o.blobs,
    tokens: new AdminTokens(o.store, [...(o.token ? [{ token: o.token, scopes: SCOPES }] : []), ...(o.tokens ?? [])]),
    cdn: (o.cdn ?? []).map(withSlash),
    publicUrl: o.publicUrl ? withSlash(o.publicUrl) : null,
    ...planner,
    planner,
    planRefMinBytes,
    serve: o.serve === false ? false : { app: o.serve?.app ?? null, channel: o.serve?.channel ?? 'stable' },
    bodyLimit: integerIn('bodyLimit', o.bodyLimit ?? 1_048_576, [1, SAFE]),
    bodyTimeoutMs: integerIn('bodyTimeoutMs', o.bodyTimeoutMs ?? 10_000, BODY_TIMEOUT_RANGE_MS),
    uploadMinRate: integerIn('uploadMinRate', o.uploadMinRate ?? 1024, [1, SAFE]),
    adminBodyLimit: integerIn('adminBodyLimit', o.adminBodyLimit ?? 64 * 1024 * 1024, [1, SAFE]),
    uploadLimit,
    maxInFlight: resolveMaxInFlight(o.maxInFlight),
    retryAfter: resolveRetryAfter(o.retryAfter),
    clientCheckIns: resolveWindow('clientCheckIns', o.clientCheckIns),
    clientReports: resolveWindow('clientReports', o.clientReports),
    securityHeaders: resolveSecurityHeaders(o.securityHeaders ?? {}),
    capacity: o.capacity ? resolveCapacity(o.capacity, o.cdn) : null,
    slotLedger: o.slotLedger ?? new MemorySlotLedger(),
    checkInCache,
    deltas,
    autoPause: o.autoPause === false ? false : resolveAutoPause(o.autoPause ?? { threshold: 0.2, minSample: 20 }),
    signer: o.signer ?? null,
    clientRecordMs: resolveRecordMs(o.clientRecordMs),
    recordEpoch: randomBytes(8).toString('hex'),
    now: o.now ?? Date.now,
  };
}

const SAFE = Number.MAX_SAFE_INTEGER;
/** The longest a timer waits (2^31 − 1 ms): Node fires a longer one after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;
/**
 * The longest per-client window: its 429 says to come back when it ends, and a worker honours a
 * `Retry-After` of a day at most (`MAX_RETRY_AFTER`), so a longer window refuses it again.
 */
const MAX_WINDOW_MS = 86_400_000;

/**
 * `clientCheckIns` or `clientReports`. A `max` of 0 (every request refused), NaN (`n <= NaN` is
 * false: the same) or a window of NaN ms (never over: no limit) would break the limit silently.
 */
function resolveWindow(name: string, w: { max: number; windowMs: number } | false | undefined): { max: number; windowMs: number } | false {
  if (w === undefined) return { max: 60, windowMs: 60_000 };
  if (w === false) return false;
  if (!w || typeof w !== 'object') throw new TypeError(`${name} must be { max, windowMs } or false`);
  return { max: integerIn(`${name}.max`, w.max, [1, SAFE]), windowMs: integerIn(`${name}.windowMs`, w.windowMs, [1, MAX_WINDOW_MS], ' (a day at most)') };
}

type DeltaOptions = Exclude<UpdateServerOptions['deltas'], false | undefined>;

/**
 * `deltas` with its defaults. `maxMs` is a timer's (past 2^31 − 1 Node gives every delta up after
 * 1 ms); `cacheBytes` the LRU cache's size, which must be positive; NaN elsewhere compared false
 * and silently turned a limit off (`maxBytes`) or every delta off (`history`).
 */
function resolveDeltas(d: DeltaOptions): Required<DeltaOptions> {
  if (typeof d !== 'object' || d === null) throw new TypeError('deltas must be { history?, maxBytes?, maxMs?, inlineBytes?, cacheBytes? } or false');
  return {
    history: integerIn('deltas.history', d.history ?? 3, [1, SAFE]),
    maxBytes: integerIn('deltas.maxBytes', d.maxBytes ?? 8 * 1024 * 1024, [1, SAFE]),
    maxMs: integerIn('deltas.maxMs', d.maxMs ?? 5000, [1, MAX_TIMER_MS]),
    inlineBytes: integerIn('deltas.inlineBytes', d.inlineBytes ?? 1024, [0, SAFE]),
    cacheBytes: integerIn('deltas.cacheBytes', d.cacheBytes ?? 64 * 1024 * 1024, [1, SAFE]),
  };
}

function resolveRecordMs(ms: number | undefined): number {
  if (ms === undefined) return 21_600_000;
  if (!(Number.isInteger(ms) && ms >= 0)) throw new TypeError('clientRecordMs must be a non-negative integer');
  return ms;
}

/** `NaN` (an unset environment variable through `Number`) would never shed: `n >= NaN` is false. */
function resolveMaxInFlight(n: number | undefined): number {
  if (n === undefined) return 1024;
  if (!(Number.isInteger(n) && n >= 0)) throw new TypeError('maxInFlight must be a non-negative integer');
  return n;
}

/** Longest base Retry-After: twice it is a day, the most a worker honours (sw/scheduler.ts `RETRY_AFTER_CAP_MS`). */
const MAX_RETRY_AFTER = 43_200;

/** A Retry-After must be whole seconds (RFC 9110 §10.2.3): `NaN` or `1e21` would go out as `NaN` or `1e+21`. */
function resolveRetryAfter(s: number | undefined): number {
  if (s === undefined) return 5;
  if (!(typeof s === 'number' && s >= 0 && s <= MAX_RETRY_AFTER)) throw new TypeError(`retryAfter must be a number of seconds from 0 to ${MAX_RETRY_AFTER}`);
  return s;
}

function resolveAutoPause(a: AutoPauseOptions): AutoPauseOptions {
  if (!(a.threshold > 0 && a.threshold <= 1)) throw new TypeError('autoPause.threshold must be in (0, 1]');
  if (!(Number.isInteger(a.minSample) && a.minSample >= 1)) throw new TypeError('autoPause.minSample must be a positive integer');
  return { threshold: a.threshold, minSample: a.minSample };
}

/**
 * CDN keys get the trailing slash `cdn` entries get. A key that is neither `origin` nor one of
 * `cdn` (a typo, `"orgin"`), or a source with no limit, would leave the budget silently off.
 */
export function resolveCapacity(capacity: Record<string, Budget>, cdn: readonly string[] = []): Record<string, Budget> {
  const sources = new Set(['origin', ...cdn.map(withSlash)]);
  const out: Record<string, Budget> = {};
  for (const [source, b] of Object.entries(capacity)) {
    const key = source === 'origin' ? source : withSlash(source);
    if (!sources.has(key)) {
      throw new TypeError(`capacity: ${JSON.stringify(source)} is neither "origin" nor a cdn URL (${cdn.length ? cdn.join(', ') : 'none given'})`);
    }
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw new TypeError(`capacity.${source} must be { bytesPerSecond?, requestsPerSecond? }`);
    for (const [k, n] of Object.entries(b)) {
      if (k !== 'bytesPerSecond' && k !== 'requestsPerSecond') throw new TypeError(`capacity.${source}.${k} is not a limit (bytesPerSecond or requestsPerSecond)`);
      // Infinity (JSON's 1e999) would be a limit that limits nothing: the budget silently off.
      if (n !== undefined && !(typeof n === 'number' && Number.isFinite(n) && n > 0)) throw new TypeError(`capacity.${source}.${k} must be a positive number`);
    }
    if (b.bytesPerSecond === undefined && b.requestsPerSecond === undefined) throw new TypeError(`capacity.${source} sets no limit (bytesPerSecond or requestsPerSecond)`);
    // "https://cdn" and "https://cdn/" are one source: the later budget silently replaced the other.
    if (key in out) throw new TypeError(`capacity: ${JSON.stringify(source)} names a source already given a budget (${key})`);
    out[key] = b;
  }
  return out;
}
