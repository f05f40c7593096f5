/**
 * Property-based tests of every endpoint with hostile input: whatever arrives, the answer is a
 * success the input deserved or a 4xx `{ error: { code, message } }` with a known code, never a
 * 5xx, and the server keeps serving. `FUZZ_RUNS=1000 npx vitest run server/fuzz` digs deeper.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Hono } from 'hono';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckInRequest, CheckInResponse, ChannelUpdate, ERROR_CODES, MANIFEST_FILE, MissingBlobsRequest, Name, PATHS, ReleaseManifest, ReportBatch,
  checkManifestConsistency, isErrorCode, type ErrorCode, type StatusResponse,
} from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { startServer } from './node.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
fc.configureGlobal({ numRuns: RUNS, interruptAfterTimeLimit: 20_000 });

const TOKEN = 'fuzz-admin-token';
const BODY_LIMIT = 4096;
const UPLOAD_LIMIT = 8192;

let dir: string;
let store: SqliteStore;
let blobs: BlobStore;
let app: Hono;
let dist: FakeDist;
/** A binary part for Range tests. */
let data: Uint8Array;
let dataSha: string;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Answer { status: number; headers: Headers; bytes: Uint8Array; json: unknown }

/** One request, its body always read to the end (a blob body left unread would hold an in-flight slot). */
async function call(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; auth?: boolean } = {}, target = app): Promise<Answer> {
  const headers = { ...(init.auth ? { Authorization: `Bearer ${TOKEN}` } : {}), ...init.headers };
  const body = init.body === undefined ? {} : { body: init.body, ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}) };
  const res = await target.request(`http://localhost${path}`, { method, headers, ...body } as RequestInit);
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

/** A 4xx whose JSON body names a known code mapped to that very status (HEAD answers carry no body). */
function expectError(a: Answer, method: string, codes?: readonly ErrorCode[]): ErrorCode | null {
  expect(a.status, `unexpected ${a.status}: ${new TextDecoder().decode(a.bytes).slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(a.status).toBeLessThan(500);
  if (method === 'HEAD') return null;
  expect(a.headers.get('Content-Type')).toMatch(/^application\/json/);
  const error = (a.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  expect(isErrorCode(error?.code), `not a known code: ${JSON.stringify(a.json)}`).toBe(true);
  const code = error!.code as ErrorCode;
  expect(ERROR_CODES[code]).toBe(a.status);
  expect(typeof error!.message).toBe('string');
  if (codes) expect(codes).toContain(code);
  return code;
}

let aliveN = 0;
/** The server still answers valid requests correctly. */
async function expectAlive(target = app): Promise<void> {
  const c = await call('POST', `/${PATHS.checkIn}`, { body: JSON.stringify(checkIn(`alive-${String(++aliveN).padStart(4, '0')}`)) }, target);
  expect(c.status).toBe(200);
  const b = await call('GET', `/${PATHS.blob(dataSha)}`, {}, target);
  expect(b.status).toBe(200);
  expect(sha256(b.bytes)).toBe(dataSha);
  expect((await call('GET', '/', {}, target)).status).toBe(200);
}

const checkIn = (client: string, o: object = {}) => ({ client, app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, swIds: true }, ...o });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'updraft-fuzz-'));
  store = openSqliteStore(dir);
  blobs = new BlobStore(join(dir, 'blobs'));
  app = createUpdateServer({ store, blobs, token: TOKEN, bodyLimit: BODY_LIMIT, uploadLimit: UPLOAD_LIMIT, clientCheckIns: false });
  data = new Uint8Array(3000).map((_, i) => (i * 7919) % 251);
  dataSha = sha256(data);
  dist = await fakeDist({ 'index.html': '<h1>fuzz</h1>', 'assets/app.js': 'console.log(1)', 'data.bin': data }, { sw: 'self.fuzz=1' });
  for (const part of [...dist.manifest.assets, dist.manifest.sw!]) {
    expect((await call('PUT', `/${PATHS.adminBlob(part.sha256)}`, { body: dist.files.get(part.path)! as Uint8Array<ArrayBuffer>, auth: true })).status).toBe(201);
  }
  expect((await call('POST', `/${PATHS.adminReleases}`, { body: JSON.stringify(dist.manifest), auth: true })).status).toBe(201);
  expect((await call('PUT', `/${PATHS.adminChannel('stable')}`, { body: JSON.stringify({ release: dist.manifest.id }), auth: true })).status).toBe(200);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---- arbitraries -------------------------------------------------------------------------

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const headerSafe = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)), maxLength: 80 });
/** Set as own properties, so `__proto__` and friends reach the wire as plain keys. */
const withField = (base: object, key: string, value: unknown): object => {
  const out: Record<string, unknown> = { ...base };
  if (value === undefined) delete out[key];
  else Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
  return out;
};
/** A valid object with up to three fields replaced by anything JSON can carry, deleted, or added. */
const mutated = (valid: fc.Arbitrary<object>, keys: string[]) =>
  fc.tuple(valid, fc.array(fc.tuple(fc.constantFrom(...keys, '__proto__', 'constructor', 'extra'), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined })), { maxLength: 3 }))
    .map(([base, edits]) => edits.reduce<object>((o, [k, val]) => withField(o, k, val), base));
/** Body text: mutated valid JSON, any JSON, broken JSON, or not JSON at all. */
const bodyText = (valid: fc.Arbitrary<object>, keys: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: mutated(valid, keys).map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: valid.map((o) => JSON.stringify(o)) },
    fc.json({ maxDepth: 4 }),
    fc.json().map((s) => s.slice(0, Math.max(0, s.length - 1))),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom('', '{', '[', 'null', 'true', '"x"', '{"client":', '\u0000', '[[[[[[[[[[', '{"a":1}{"a":1}', '1e400', '\ufeff{}'),
    fc.nat({ max: 2000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  );
const parseOr = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    // A UTF-8 BOM is dropped by the server's body decoding, as by any fetch `text()`.
    return { ok: true, value: JSON.parse(text.replace(/^\ufeff/, '')) };
  } catch {
    return { ok: false };
  }
};

const clientId = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
const releaseId = () => fc.constantFrom(dist.manifest.id, '0123456789abcdef');
const validCheckIn = () =>
  fc.record({
    client: clientId,
    app: fc.constantFrom('demo', 'other-app'),
    channel: fc.constantFrom('stable', 'beta'),
    release: fc.option(releaseId(), { nil: null }),
    staged: fc.option(fc.option(releaseId(), { nil: null }), { nil: undefined }),
    caps: fc.record({ sync: fc.boolean(), periodicSync: fc.boolean(), quota: fc.option(fc.nat(), { nil: undefined }) }, { requiredKeys: ['sync', 'periodicSync'] }),
  }, { requiredKeys: ['client', 'app', 'channel', 'release', 'caps'] });
const validReportBatch = () =>
  fc.record({
    reports: fc.array(
      fc.record({
        client: clientId,
        app: fc.constantFrom('demo'),
        release: releaseId(),
        event: fc.constantFrom('downloaded', 'activated', 'failed'),
        code: fc.option(fc.constantFrom('content', 'quota', 'nope'), { nil: undefined }),
        message: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
        at: fc.integer(),
      }, { requiredKeys: ['client', 'app', 'release', 'event', 'at'] }),
      { minLength: 0, maxLength: 5 },
    ),
  });

/** A path segment: valid or almost valid ids, traversal in several encodings, or anything. */
const segment = (valid: fc.Arbitrary<string>) =>
  fc.oneof(
    valid,
    valid.map((s) => s.toUpperCase()),
    valid.map((s) => s.slice(1)),
    valid.map((s) => `${s}0`),
    valid.map((s) => encodeURIComponent(s).replace(/[0-9a-f]/, (ch) => `%${ch.charCodeAt(0).toString(16)}`)),
    fc.constantFrom(
      '..', '%2e%2e', '%2E%2E', '..%2f..%2fupdraft.db', '%2e%2e%2f%2e%2e%2fupdraft.db', '..%5c..%5cupdraft.db', '..\\..\\updraft.db',
      '%00', 'a%00b', '%', '%zz', '%c0%ae%c0%ae', '%252e%252e', '.', 'missing', '*', '~', '%2f', ';', '?', '#',
    ),
    fc.string({ maxLength: 80 }).map(encodeURIComponent),
    headerSafe.map((s) => s.replace(/[?#/]/g, '')),
  );

// ---- public routes -------------------------------------------------------------------------

describe('fuzz: public routes', () => {
  it('POST check-in: 200 with a valid answer exactly when the body is a valid check-in, else 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(bodyText(validCheckIn(), ['client', 'app', 'channel', 'release', 'staged', 'caps']), async (text) => {
        const a = await call('POST', `/${PATHS.checkIn}`, { body: text });
        const parsed = parseOr(text);
        if (!parsed.ok) return void expectError(a, 'POST', ['invalid_json']);
        if (v.is(CheckInRequest, parsed.value)) {
          expect(a.status).toBe(200);
          expect(v.is(CheckInResponse, a.json)).toBe(true);
        } else expectError(a, 'POST', ['invalid_body']);
      }),
    );
    await expectAlive();
  });

  it('POST reports: 202 exactly when the batch is valid, else 4xx', async () => {
    const before = (await store.reportCounts()).reduce((n, r) => n + r.count, 0);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(bodyText(validReportBatch(), ['reports']), async (text) => {
        const a = await call('POST', `/${PATHS.reports}`, { body: text });
        const parsed = parseOr(text);
        if (!parsed.ok) return void expectError(a, 'POST', ['invalid_json']);
        if (v.is(ReportBatch, parsed.value)) {
          expect(a.status).toBe(202);
          accepted += (parsed.value as ReportBatch).reports.length;
        } else expectError(a, 'POST', ['invalid_body']);
      }),
    );
    // Only valid reports were stored, every one of them.
    expect((await store.reportCounts()).reduce((n, r) => n + r.count, 0) - before).toBe(accepted);
    await expectAlive();
  });

  it('bodies over the limit get 413 body_too_large on every public body route, at any size and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(PATHS.checkIn, PATHS.reports),
        fc.oneof(fc.integer({ min: BODY_LIMIT - 2, max: BODY_LIMIT + 2 }), fc.integer({ min: 0, max: 4 * BODY_LIMIT })),
        fc.integer({ min: 1, max: 5000 }),
        async (path, size, chunk) => {
          const body = new TextEncoder().encode('x'.repeat(size));
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < size; i += chunk) controller.enqueue(body.subarray(i, i + chunk));
              controller.close();
            },
          });
          const a = await app.request(`/${path}`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
          const answer: Answer = { status: a.status, headers: a.headers, bytes: new Uint8Array(), json: await a.json() };
          expectError(answer, 'POST', size > BODY_LIMIT ? ['body_too_large'] : ['invalid_json']);
        },
      ),
      { numRuns: Math.min(RUNS, 60) },
    );
    await expectAlive();
  });

  it('the default body limit (1 MiB) applies when none is configured', async () => {
    const other = createUpdateServer({ store, blobs, token: TOKEN });
    for (const path of [PATHS.checkIn, PATHS.reports]) {
      expectError(await call('POST', `/${path}`, { body: 'x'.repeat(1_048_577) }, other), 'POST', ['body_too_large']);
      expectError(await call('POST', `/${path}`, { body: ' '.repeat(1_048_576) }, other), 'POST', ['invalid_json']);
    }
    await expectAlive(other);
  });

  it('GET/HEAD blobs: only a known lowercase sha256 serves bytes; anything else is 400 or 404', async () => {
    const known = new Map([...dist.manifest.assets, dist.manifest.sw!].map((p) => [p.sha256, dist.files.get(p.path)!]));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD'), segment(fc.oneof(fc.constantFrom(...known.keys()), hex(64))), async (method, seg) => {
        const a = await call(method, `/v1/blobs/${seg}`);
        // Percent-encoded hex digits name the same resource (RFC 3986 §6.2.2.2).
        const name = safeDecode(seg) ?? seg;
        if (a.status === 200) {
          expect(known.has(name)).toBe(true);
          expect(a.headers.get('Content-Length')).toBe(String(known.get(name)!.byteLength));
          if (method === 'GET') expect(sha256(a.bytes)).toBe(name);
        } else {
          expect(known.has(name)).toBe(false);
          expectError(a, method, ['invalid_hash', 'not_found', 'invalid_path']);
        }
      }),
    );
    await expectAlive();
  });

  it('Range: 206 with exactly the named bytes, 200 with all of them, or 416 with Content-Range */size', async () => {
    const size = data.byteLength;
    const num = fc.oneof(fc.nat({ max: size + 10 }).map(String), fc.constantFrom('', '0', '-1', '1e3', ' 5', '+5', '0x10', '99999999999999999999', String(2 ** 53), '00007'));
    const structured = fc.tuple(num, num).map(([a, b]) => ({ header: `bytes=${a}-${b}`, a, b }));
    const header = fc.oneof(
      { weight: 3, arbitrary: structured },
      headerSafe.map((h) => ({ header: h })),
      fc.constantFrom('bytes=0-0,1-1', 'bytes=0-1, 5-9', 'bytes=-0', 'bytes=--1', 'items=0-1', 'bytes 0-1', 'bytes=', 'bytes=-', `bytes=${'0-0,'.repeat(500)}0-0`).map((h) => ({ header: h })),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD'), header, fc.constantFrom(undefined, `"${dataSha}"`, '"other"'), async (method, h, ifRange) => {
        const a = await call(method, `/${PATHS.blob(dataSha)}`, { headers: { Range: h.header, ...(ifRange ? { 'If-Range': ifRange } : {}) } });
        expect([200, 206, 416]).toContain(a.status);
        if (a.status === 200) {
          expect(a.headers.get('Content-Length')).toBe(String(size));
          if (method === 'GET') expect(sha256(a.bytes)).toBe(dataSha);
        } else if (a.status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(a.headers.get('Content-Range') ?? '');
          expect(m).not.toBeNull();
          const [start, end, total] = [Number(m![1]), Number(m![2]), Number(m![3])];
          expect(total).toBe(size);
          expect(start).toBeLessThanOrEqual(end);
          expect(end).toBeLessThan(size);
          expect(a.headers.get('Content-Length')).toBe(String(end - start + 1));
          if (method === 'GET') expect(a.bytes).toEqual(data.subarray(start, end + 1));
        } else {
          expect(a.headers.get('Content-Range')).toBe(`bytes */${size}`);
          expectError(a, method, ['range_not_satisfiable']);
        }
        // RFC 9110 §14.2 for a plain `bytes=a-b` honoured with its own validator (or none).
        if ('a' in h && ifRange !== '"other"' && /^\d+$/.test(h.a) && (h.b === '' || /^\d+$/.test(h.b)) && h.a.length <= 15 && h.b.length <= 15) {
          const start = Number(h.a);
          const end = h.b === '' ? size - 1 : Math.min(Number(h.b), size - 1);
          if (start < size && start <= (h.b === '' ? size - 1 : Number(h.b))) {
            expect(a.status).toBe(206);
            expect(a.headers.get('Content-Range')).toBe(`bytes ${start}-${end}/${size}`);
          } else expect(a.status).toBe(416);
        }
        if (ifRange === '"other"') expect(a.status).toBe(200);
      }),
    );
    await expectAlive();
  });

  it('GET releases/:id: the manifest for the known id, else 400 or 404', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD'), segment(fc.oneof(fc.constant(dist.manifest.id), hex(16))), async (method, seg) => {
        const a = await call(method, `/v1/releases/${seg}`);
        if (a.status === 200) {
          expect(safeDecode(seg)).toBe(dist.manifest.id);
          if (method === 'GET') expect(a.json).toEqual(dist.manifest);
        } else expectError(a, method, ['invalid_body', 'unknown_release', 'not_found', 'invalid_path']);
      }),
    );
    await expectAlive();
  });

  it('static paths: only release files are ever served; traversal is 400 invalid_path or 404, never a file', async () => {
    const files = [...dist.files.values()].map((b) => sha256(b));
    const parts = fc.array(segment(fc.constantFrom('index.html', 'assets', 'app.js', 'data.bin', 'sw.js', MANIFEST_FILE, 'updraft.db', 'blobs', 'etc', 'passwd')), { minLength: 0, maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD'), parts, fc.constantFrom('/', '\\', '%2f', '%5c', '//'), async (method, segs, sep) => {
        const path = `/${segs.join(sep)}`;
        const a = await call(method, path);
        if (a.status === 200) {
          if (method === 'GET') {
            // Empty segments do not name anything: `//x` is served as `/x`, so compare collapsed.
            const decoded = safeDecode(new URL(`http://localhost${path}`).pathname)?.replace(/\/+/g, '/');
            if (decoded === `/${MANIFEST_FILE}`) expect(a.json).toEqual(dist.manifest);
            else expect(files).toContain(sha256(a.bytes));
          }
        } else expectError(a, method, ['invalid_path', 'not_found', 'invalid_hash', 'invalid_body', 'unknown_release']);
        const decoded = safeDecode(new URL(`http://localhost${path}`).pathname);
        if (decoded !== null && /(^|\/)\.\.?(\/|$)|\\|\0/.test(decoded.replace(/^\/v1\/.*/, ''))) expect(a.status).toBeGreaterThanOrEqual(400);
      }),
    );
    await expectAlive();
  });

  it('any method on any route: never a 5xx, errors are JSON with a known code', async () => {
    const routes = ['/', '/index.html', `/${PATHS.checkIn}`, `/${PATHS.reports}`, `/${PATHS.blob(dataSha)}`, `/${PATHS.release(dist.manifest.id)}`, '/v1', '/v1/', '/v1/nope'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), fc.constantFrom(...routes), fc.option(fc.string({ maxLength: 50 }), { nil: undefined }), async (method, path, body) => {
        const a = await call(method, path, method === 'GET' || method === 'HEAD' || body === undefined ? {} : { body });
        if (a.status < 400) {
          expect(a.status).toBeLessThan(300);
          return;
        }
        expectError(a, method);
      }),
    );
    await expectAlive();
  });
});

// ---- admin routes --------------------------------------------------------------------------

const ADMIN_ROUTES: [string, () => string][] = [
  ['POST', () => `/${PATHS.adminMissingBlobs}`],
  ['PUT', () => `/${PATHS.adminBlob(dataSha)}`],
  ['POST', () => `/${PATHS.adminReleases}`],
  ['PUT', () => `/${PATHS.adminChannel('stable')}`],
  ['GET', () => `/${PATHS.adminStatus}`],
  ['GET', () => '/v1/admin/nope'],
  ['GET', () => '/v1/admin/%73tatus'],
];

describe('fuzz: admin routes', () => {
  it('without, or with a wrong, bearer token of any length → 401 unauthorized, and nothing changes', async () => {
    const statusBefore = await call('GET', `/${PATHS.adminStatus}`, { auth: true });
    const wrong = fc.oneof(
      fc.constant(undefined),
      headerSafe.filter((t) => t.trim() !== TOKEN).map((t) => `Bearer ${t}`),
      fc.constantFrom(TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.toUpperCase()}`, 'Bearer', 'Bearer ', `Bearer${TOKEN}`, `Token ${TOKEN}`),
      fc.nat({ max: 4000 }).map((n) => `Bearer ${'a'.repeat(n)}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ADMIN_ROUTES), wrong, async ([method, path], authorization) => {
        const a = await call(method, path(), {
          headers: authorization === undefined ? {} : ({ Authorization: authorization } as Record<string, string>),
          ...(method === 'GET' ? {} : { body: JSON.stringify({ release: dist.manifest.id, sha256s: [] }) }),
        });
        expectError(a, method, ['unauthorized']);
        expect(a.headers.get('WWW-Authenticate')).toMatch(/^Bearer /);
      }),
    );
    expect((await call('GET', `/${PATHS.adminStatus}`, { auth: true })).json).toEqual(statusBefore.json);
  });

  it('a server without a token refuses every admin request, even one bearing some token', async () => {
    const closed = createUpdateServer({ store, blobs });
    for (const [method, path] of ADMIN_ROUTES) {
      for (const headers of [{} as Record<string, string>, { Authorization: `Bearer ${TOKEN}` }, { Authorization: 'Bearer ' }]) {
        expectError(await call(method, path(), { headers, ...(method === 'GET' ? {} : { body: '{}' }) }, closed), method, ['unauthorized']);
      }
    }
  });

  it('POST blobs/missing: 200 with exactly the unknown hashes when the body is valid, else 4xx', async () => {
    const stored = new Set([...dist.manifest.assets, dist.manifest.sw!].map((p) => p.sha256));
    const valid = fc.record({ sha256s: fc.array(fc.oneof(fc.constantFrom(...stored), hex(64)), { maxLength: 10 }) });
    await fc.assert(
      fc.asyncProperty(bodyText(valid, ['sha256s']), async (text) => {
        const a = await call('POST', `/${PATHS.adminMissingBlobs}`, { body: text, auth: true });
        const parsed = parseOr(text);
        if (!parsed.ok) return void expectError(a, 'POST', ['invalid_json']);
        if (v.is(MissingBlobsRequest, parsed.value)) {
          expect(a.status).toBe(200);
          const asked = [...new Set((parsed.value as MissingBlobsRequest).sha256s)];
          expect((a.json as { missing: string[] }).missing.sort()).toEqual(asked.filter((s) => !stored.has(s)).sort());
        } else expectError(a, 'POST', ['invalid_body']);
      }),
    );
    await expectAlive();
  });

  it('PUT blobs/:sha256: stored exactly when the bytes hash to the name and fit the upload limit; no temp files remain', async () => {
    const blob = fc.uint8Array({ maxLength: 2 * UPLOAD_LIMIT });
    await fc.assert(
      fc.asyncProperty(blob, fc.nat({ max: 3 }), segment(hex(64)), fc.integer({ min: 1, max: 4096 }), async (bytes, pick, other, chunk) => {
        const right = sha256(bytes);
        const name = pick === 0 ? other : right;
        const before = await blobs.size(right);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.byteLength; i += chunk) controller.enqueue(bytes.slice(i, i + chunk));
            controller.close();
          },
        });
        const a = await call('PUT', `/v1/admin/blobs/${name}`, { body, auth: true });
        if (a.status === 201) {
          expect(safeDecode(name)).toBe(right);
          expect(bytes.byteLength).toBeLessThanOrEqual(UPLOAD_LIMIT);
          expect(await blobs.size(right)).toBe(bytes.byteLength);
          expect(await store.blobSizes([right])).toEqual(new Map([[right, bytes.byteLength]]));
        } else {
          expectError(a, 'PUT', ['invalid_hash', 'hash_mismatch', 'body_too_large', 'not_found', 'invalid_path']);
          if (/^[0-9a-f]{64}$/.test(safeDecode(name) ?? '') && bytes.byteLength > UPLOAD_LIMIT) expect((a.json as { error: { code: string } }).error.code).toBe('body_too_large');
          expect(await blobs.size(right)).toBe(before);
        }
      }),
    );
    expect(tempFiles(blobs.root)).toEqual([]);
    await expectAlive();
  });

  it('PUT channels/:name: 200 exactly for a valid name and update naming a known release of that app', async () => {
    const valid = fc.record({
      release: fc.constantFrom(dist.manifest.id, '0123456789abcdef'),
      percent: fc.option(fc.oneof(fc.integer({ min: -5, max: 105 }), fc.double()), { nil: undefined }),
      activation: fc.option(fc.constantFrom('next-navigation', 'prompt', 'immediate', 'later'), { nil: undefined }),
    }, { requiredKeys: ['release'] });
    const channels = new Set((await store.listChannels()).map((ch) => ch.name));
    await fc.assert(
      fc.asyncProperty(segment(fc.constantFrom('stable', 'beta', 'canary-1')), bodyText(valid, ['release', 'percent', 'activation']), fc.constantFrom('', '?app=demo', '?app=other', '?app='), async (name, text, query) => {
        const a = await call('PUT', `/v1/admin/channels/${name}${query}`, { body: text, auth: true });
        const parsed = parseOr(text);
        const release = parsed.ok && v.is(ChannelUpdate, parsed.value) ? (parsed.value as ChannelUpdate).release : null;
        // Without a release, the update changes an existing channel (every channel here is app demo's).
        const ok = parsed.ok && v.is(ChannelUpdate, parsed.value) && v.is(Name, safeDecode(name)) && query !== '?app=other'
          && (release === dist.manifest.id || (release === undefined && channels.has(safeDecode(name) ?? '')));
        if (ok) expect(a.status).toBe(200);
        else expectError(a, 'PUT', ['invalid_json', 'invalid_body', 'unknown_release', 'unknown_channel', 'bad_request', 'not_found']);
        if (a.status === 200) channels.add(safeDecode(name)!);
      }),
    );
    // Put stable back where the other properties expect it.
    expect((await call('PUT', `/${PATHS.adminChannel('stable')}`, { body: JSON.stringify({ release: dist.manifest.id, percent: 100 }), auth: true })).status).toBe(200);
    await expectAlive();
  });

  it('POST releases: accepted only for a valid, consistent manifest whose parts are all stored', async () => {
    const keys = ['id', 'app', 'version', 'createdAt', 'entry', 'assets', 'sw'];
    const manifests = fc.oneof(
      mutated(fc.constant(dist.manifest), keys),
      // Valid shape, but parts nobody uploaded or sizes that lie.
      fc.tuple(fc.array(fc.record({ path: fc.constantFrom('index.html', 'a.js', 'b/c.css'), sha256: hex(64), size: fc.nat({ max: 100 }), type: fc.constant('text/plain') }), { minLength: 1, maxLength: 3 }))
        .map(([assets]) => ({ ...dist.manifest, assets })),
      fc.nat({ max: 3000 }).map((size) => ({ ...dist.manifest, assets: dist.manifest.assets.map((a) => (a.path === 'data.bin' ? { ...a, size } : a)) })),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(manifests.map((m) => JSON.stringify(m)), bodyText(fc.constant(dist.manifest), keys)), async (text) => {
        const a = await call('POST', `/${PATHS.adminReleases}`, { body: text, auth: true });
        if (a.status === 200 || a.status === 201) {
          const m = v.parse(ReleaseManifest, JSON.parse(text));
          expect(await checkManifestConsistency(m)).toBeNull();
          const parts = [...m.assets, ...(m.sw ? [m.sw] : [])];
          for (const p of parts) expect(await blobs.size(p.sha256)).toBe(p.size);
        } else expectError(a, 'POST', ['invalid_json', 'invalid_body', 'missing_parts', 'size_mismatch', 'release_conflict']);
      }),
    );
    // Every stored release is whole.
    for (const r of await store.listReleases()) {
      for (const p of [...r.manifest.assets, ...(r.manifest.sw ? [r.manifest.sw] : [])]) expect(await blobs.size(p.sha256)).toBe(p.size);
    }
    await expectAlive();
  });

  it('GET status: 200 for any app name (or none), 400 invalid_body for a filter no app can have', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 100 }), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)), async (appName) => {
        const a = await call('GET', `/${PATHS.adminStatus}?app=${encodeURIComponent(appName)}`, { auth: true });
        if (appName === '' || v.is(Name, appName)) {
          expect(a.status).toBe(200);
          expect(Object.keys(a.json as object).sort()).toEqual(['channels', 'clients', 'deltas', 'recentReports', 'releases', 'reportCounts']);
          expect((a.json as StatusResponse).deltas).toEqual({ pending: expect.any(Number), elsewhere: expect.any(Number) });
        } else {
          expect(a.status).toBe(400);
          expect((a.json as { error: { code: string } }).error.code).toBe('invalid_body');
        }
      }),
    );
  });

  it('admin JSON bodies over 64 MiB get 413 body_too_large, streamed or not', async () => {
    const big = 64 * 1024 * 1024 + 1;
    for (const path of [PATHS.adminMissingBlobs, PATHS.adminReleases, PATHS.adminChannel('stable')]) {
      let sent = 0;
      const chunk = new Uint8Array(1024 * 1024).fill(0x20);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const n = Math.min(chunk.byteLength, big - sent);
          if (n === 0) return controller.close();
          controller.enqueue(chunk.subarray(0, n));
          sent += n;
        },
      });
      const method = path === PATHS.adminChannel('stable') ? 'PUT' : 'POST';
      expectError(await call(method, `/${path}`, { body, auth: true }), method, ['body_too_large']);
    }
    await expectAlive();
  });
});

// ---- over real HTTP --------------------------------------------------------------------------

/** Sends raw bytes and returns the status code and body text; the request must say `Connection: close`. */
function raw(port: number, request: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const head = at < 0 ? text : text.slice(0, at);
      let body = at < 0 ? '' : text.slice(at + 4);
      if (/^transfer-encoding:\s*chunked/im.test(head)) body = dechunk(body);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    });
    // Not end(): a half-closed socket makes Node abort a response still being prepared.
    socket.write(request);
  });
}

describe('fuzz: real HTTP', () => {
  it('raw hostile request lines and declared oversize bodies: a 4xx (JSON whenever the app answers), and the server keeps serving', async () => {
    const server = await startServer({ store, blobs, token: TOKEN, bodyLimit: BODY_LIMIT, uploadLimit: UPLOAD_LIMIT, clientCheckIns: false });
    try {
      const req = (line: string, headers = '') => `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`;
      const cases = [
        req('GET /../../updraft.db'), req('GET /%2e%2e/%2e%2e/updraft.db'), req('GET /..%2f..%2fupdraft.db'), req('GET /..\\..\\updraft.db'),
        req('GET /v1/blobs/..%2f..%2fupdraft.db'), req('GET /v1/blobs/../../updraft.db'), req('GET /v1/blobs/%00'), req('GET /a%00b'), req('GET /%'),
        req('GET *'), req(`GET http://127.0.0.1:${server.port}/v1/admin/status`), req('GET //v1//admin/status'), req('GET /v1/admin/../admin/status'),
        req(`GET /${PATHS.blob(dataSha)}`, 'Range: bytes=99999999999999999999-\r\n'), req(`GET /${PATHS.blob(dataSha)}`, 'Range: bytes=5-1\r\n'),
        req(`POST /${PATHS.checkIn}`, `Content-Length: ${BODY_LIMIT + 1}\r\n`) + 'x'.repeat(BODY_LIMIT + 1),
        req(`PUT /${PATHS.adminBlob(dataSha)}`, `Authorization: Bearer ${TOKEN}\r\nContent-Length: ${UPLOAD_LIMIT + 1}\r\n`) + 'x'.repeat(UPLOAD_LIMIT + 1),
        req(`POST /${PATHS.reports}`, 'Transfer-Encoding: chunked\r\n') + `${(BODY_LIMIT + 1).toString(16)}\r\n${'x'.repeat(BODY_LIMIT + 1)}\r\n0\r\n\r\n`,
      ];
      for (const c of cases) {
        const a = await raw(server.port, c);
        const line = c.split('\r\n')[0];
        // The HTTP layer may answer malformed targets itself (an empty 400); what reaches the app gets JSON.
        if (a.status !== 200) {
          expect(a.status, line).toBeGreaterThanOrEqual(400);
          expect(a.status, line).toBeLessThan(500);
            if (a.body) expect(isErrorCode((JSON.parse(a.body) as { error: { code: string } }).error.code), line).toBe(true);
        }
        expect(a.body, line).not.toContain('SQLite format');
      }
      const res = await fetch(new URL(PATHS.checkIn, server.url), { method: 'POST', body: JSON.stringify(checkIn('after-raw-1')) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});

function dechunk(body: string): string {
  let out = '';
  for (let at = 0; ;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    if (eol < 0 || !(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function tempFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}
