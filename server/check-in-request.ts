import * as v from 'valibot';
import { CheckInRequest, ClientId, Name, parse } from '../protocol/index.js';
import { UpdraftError } from '../protocol/index.js';

// The same rules as protocol/ (ClientId, Name, ReleaseId, Capabilities); check-in-request.test.ts
// checks on generated inputs that this never accepts what the schema rejects, nor answers differently.
const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RELEASE_ID = /^[0-9a-f]{16}$/;
const KEYS = new Set(['client', 'app', 'channel', 'release', 'staged', 'pending', 'caps', 'recorded']);
const RECORDED = /^[0-9a-z]{1,16}$/;
const CAP_KEYS = new Set(['sync', 'periodicSync', 'quota', 'usage', 'compactPlans', 'planRefs', 'swIds']);

const isCount = (x: unknown) => x === undefined || (typeof x === 'number' && x >= 0 && !Number.isNaN(x));
const isRelease = (x: unknown) => x === null || (typeof x === 'string' && RELEASE_ID.test(x));

/**
 * The common, well-formed check-in, checked by hand in a few hundred nanoseconds; null for
 * anything else (unknown keys included), which then goes through the valibot schema and gets its
 * error messages from there.
 */
function fastCheckIn(body: unknown): CheckInRequest | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  for (const k in b) if (!KEYS.has(k)) return null;
  const { client, app, channel, release, staged, pending, caps, recorded } = b;
  if (recorded !== undefined && (typeof recorded !== 'string' || !RECORDED.test(recorded))) return null;
  if (typeof client !== 'string' || !CLIENT_ID.test(client)) return null;
  if (typeof app !== 'string' || !NAME.test(app) || typeof channel !== 'string' || !NAME.test(channel)) return null;
  if (!isRelease(release) || !(staged === undefined || isRelease(staged)) || !(pending === undefined || isRelease(pending))) return null;
  if (typeof caps !== 'object' || caps === null || Array.isArray(caps)) return null;
  const c = caps as Record<string, unknown>;
  for (const k in c) if (!CAP_KEYS.has(k)) return null;
  if (typeof c.sync !== 'boolean' || typeof c.periodicSync !== 'boolean' || !isCount(c.quota) || !isCount(c.usage)) return null;
  if (c.compactPlans !== undefined && typeof c.compactPlans !== 'boolean') return null;
  if (c.planRefs !== undefined && typeof c.planRefs !== 'boolean') return null;
  if (c.swIds !== undefined && typeof c.swIds !== 'boolean') return null;
  const out: CheckInRequest = {
    client, app, channel, release: release as string | null,
    caps: {
      sync: c.sync, periodicSync: c.periodicSync,
      ...(c.quota !== undefined ? { quota: c.quota as number } : {}), ...(c.usage !== undefined ? { usage: c.usage as number } : {}),
      ...(c.compactPlans !== undefined ? { compactPlans: c.compactPlans } : {}),
      ...(c.planRefs !== undefined ? { planRefs: c.planRefs } : {}),
      ...(c.swIds !== undefined ? { swIds: c.swIds } : {}),
    },
  };
  if (staged !== undefined) out.staged = staged as string | null;
  if (pending !== undefined) out.pending = pending as string | null;
  if (recorded !== undefined) out.recorded = recorded as string;
  return out;
}

// The body as the worker writes it (sw/check-in.ts: JSON.stringify of its fields in this order,
// no spaces), each value by the same rules as fastCheckIn. Numbers by JSON's own grammar, not
// negative, so Number() reads them as JSON.parse does.
const NUMBER = '(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const RELEASE = '(null|"[0-9a-f]{16}")';
const NAME_SRC = NAME.source.slice(1, -1);
const WORKER_BODY = new RegExp(
  `^\\{"client":"(${CLIENT_ID.source.slice(1, -1)})","app":"(${NAME_SRC})","channel":"(${NAME_SRC})","release":${RELEASE}(?:,"staged":${RELEASE})?(?:,"pending":${RELEASE})?` +
  `,"caps":\\{"sync":(true|false),"periodicSync":(true|false)(?:,"quota":(${NUMBER}))?(?:,"usage":(${NUMBER}))?(?:,"compactPlans":(true|false))?(?:,"planRefs":(true|false))?(?:,"swIds":(true|false))?\\}(?:,"recorded":"(${RECORDED.source.slice(1, -1)})")?\\}$`,
);
const releaseOf = (json: string) => (json === 'null' ? null : json.slice(1, -1));

/**
 * A body exactly as the worker writes it, read with one regular expression instead of JSON.parse
 * and a walk of the object: a third of the time, and parsing was the largest part of a check-in's
 * own work (BENCHMARKS.md). Null for any other spelling (spaces, another key order, an escape),
 * which then goes the JSON.parse way; check-in-request.test.ts checks on generated bodies that
 * both ways give the same request.
 */
function scanWorkerBody(text: string): CheckInRequest | null {
  const m = WORKER_BODY.exec(text);
  if (m === null) return null;
  const caps: CheckInRequest['caps'] = { sync: m[7] === 'true', periodicSync: m[8] === 'true' };
  if (m[9] !== undefined) caps.quota = Number(m[9]);
  if (m[10] !== undefined) caps.usage = Number(m[10]);
  if (m[11] !== undefined) caps.compactPlans = m[11] === 'true';
  if (m[12] !== undefined) caps.planRefs = m[12] === 'true';
  if (m[13] !== undefined) caps.swIds = m[13] === 'true';
  const out: CheckInRequest = { client: m[1]!, app: m[2]!, channel: m[3]!, release: releaseOf(m[4]!), caps };
  if (m[5] !== undefined) out.staged = releaseOf(m[5]);
  if (m[6] !== undefined) out.pending = releaseOf(m[6]);
  if (m[14] !== undefined) out.recorded = m[14];
  return out;
}

/** A check-in body (JSON text) as a CheckInRequest, or `invalid_json` / `invalid_body`. */
export function parseCheckIn(text: string): CheckInRequest {
  const scanned = scanWorkerBody(text);
  if (scanned !== null) return scanned;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UpdraftError('invalid_json', 'request body is not valid JSON');
  }
  return fastCheckIn(body) ?? parse(CheckInRequest, body, 'check-in');
}

/**
 * A check-in body's `app/client`, the key its rate limit counts under; null when either is
 * invalid, so no unbounded key is ever stored (the request is then refused with 400 anyway).
 */
export function checkInKey(text: string): string | null {
  // A worker's body is read once more by the route: the scan is cheap, JSON.parse is not.
  const scanned = scanWorkerBody(text);
  if (scanned !== null) return `${scanned.app}/${scanned.client}`;
  try {
    return clientKey(JSON.parse(text) as { app?: unknown; client?: unknown } | null);
  } catch {
    return null;
  }
}

/** `app/client` of a body naming both validly (a check-in, a report), else null. */
export function clientKey(body: { app?: unknown; client?: unknown } | null | undefined): string | null {
  return v.is(ClientId, body?.client) && v.is(Name, body?.app) ? `${body.app}/${body.client}` : null;
}

export { fastCheckIn, scanWorkerBody };
