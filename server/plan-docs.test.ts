import { createHash, createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  base64url, CheckInResponse, decodePublicKey, expandPlan, fromBase64url, PATHS, PlanDocument, planDocHash, planFromRef, planStatement,
  type Plan,
} from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import type { UpdateServerOptions } from './options.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { createPlanSigner, generateSigningKey, loadSigningKey } from './plan-signer.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';
const NOW = 1_700_000_000_000;

async function setup(o: { prefix?: string; dir?: string; pem?: string; planRefMinBytes?: number; server?: Partial<UpdateServerOptions> } = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-docs-', dir: o.dir });
  const signer = o.pem ? createPlanSigner([await loadSigningKey(o.pem)]) : null;
  const server = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN, now: () => NOW, signer, planRefMinBytes: o.planRefMinBytes ?? 0, ...o.server });
  const prefix = o.prefix ?? '/';
  const app = prefix === '/' ? server : new Hono().route(prefix.slice(0, -1), server);
  const base = `http://localhost${prefix}`;
  const admin = (method: string, path: string, body: unknown) =>
    app.request(base + path, { method, headers: { Authorization: `Bearer ${TOKEN}` }, body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) });
  const publish = async (d: FakeDist) => {
    for (const a of [...d.manifest.assets, ...(d.manifest.sw ? [d.manifest.sw] : [])]) expect((await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!)).status).toBe(201);
    expect((await admin('POST', PATHS.adminReleases, d.manifest)).status).toBe(201);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: d.manifest.id, percent: 100 })).status).toBe(200);
  };
  const checkIn = async (release: string | null, caps: object = { planRefs: true, compactPlans: true }) => {
    const res = await app.request(base + PATHS.checkIn, { method: 'POST', body: JSON.stringify({ client: 'client-aaaaaaaa', app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true, ...caps } }) });
    expect(res.status).toBe(200);
    return v.parse(CheckInResponse, await res.json());
  };
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => app.request(base + path, { method, headers });
  return { dir, publish, checkIn, get };
}

const v1 = () => fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/a-1.js': '1', 'assets/shared.css': 'body{}' }, { version: '1' });
const v2 = () => fakeDist({ 'index.html': '<h1>v2</h1>', 'assets/a-2.js': '2', 'assets/shared.css': 'body{}' }, { version: '2' });
const v3 = () => fakeDist({ 'index.html': '<h1>v3</h1>', 'assets/a-3.js': '3', 'assets/shared.css': 'body{}' }, { version: '3' });

function verifies(plan: Plan, publicKey: string): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(decodePublicKey(publicKey)!) }, format: 'jwk' });
  return verify(null, Buffer.from(planStatement(plan)), key, Buffer.from(fromBase64url(plan.signatures![0]!.sig)!));
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('answers by reference and plan documents', () => {
  it('a worker that says planRefs gets the plan by reference; document + answer = the inline plan, signature included', async () => {
    const key = await generateSigningKey();
    const s = await setup({ pem: key.privatePem });
    const d1 = await v1();
    const d2 = await v2();
    await s.publish(d1);
    await s.publish(d2);
    const byRef = await s.checkIn(d1.manifest.id);
    if (byRef.status !== 'update-ref') throw new Error(`expected update-ref, got ${byRef.status}`);
    expect(byRef.ref.doc).toMatch(new RegExp(`^v1/plans/demo/stable/${d1.manifest.id}/${d2.manifest.id}/[0-9a-f]{64}$`));

    const res = await s.get(byRef.ref.doc);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-type')).toBe('application/json');
    // Read by a worker of another origin: CORS, and the public surface's headers.
    expect(Object.fromEntries(res.headers)).toMatchObject({ 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'cross-origin' });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(planDocHash(byRef.ref.doc));
    const doc = v.parse(PlanDocument, JSON.parse(bytes.toString()));
    // The document holds nothing of one client's: no plan id, no time, no signature.
    expect(Object.keys(JSON.parse(bytes.toString()) as object).sort()).toEqual(['activation', 'app', 'fetch', 'from', 'releasePatch', 'rollback', 'to', 'toSeq']);
    const wire = planFromRef(byRef.ref, doc);
    if (typeof wire === 'string') throw new Error(wire);
    const plan = expandPlan(wire, d1.manifest)!;
    expect(plan.release.id).toBe(d2.manifest.id);
    expect(verifies(plan, key.publicKey)).toBe(true);

    // The same client without the cap gets the same plan inline.
    const inline = await s.checkIn(d1.manifest.id, { compactPlans: true });
    if (inline.status !== 'update') throw new Error('expected update');
    expect(wire).toEqual(inline.plan);
    // A first install names another document (all parts, the manifest whole).
    const first = await s.checkIn(null);
    expect(first.status === 'update-ref' && first.ref.doc).toMatch(new RegExp(`^v1/plans/demo/stable/-/${d2.manifest.id}/`));
  });

  it('with a capacity budget, the answer carries each part\'s slot and first source, and joins to the inline plan', async () => {
    // Two sources with their own small budgets: the parts are booked one on each, so one moves the origin first.
    const s = await setup({ server: { cdn: ['https://cdn.test/'], capacity: { origin: { bytesPerSecond: 20 }, 'https://cdn.test/': { bytesPerSecond: 20 } } } });
    const d1 = await v1();
    await s.publish(d1);
    await s.publish(await v2());
    // The same client twice: it keeps its reservation, so both answers carry the same slots.
    const inline = await s.checkIn(d1.manifest.id, { compactPlans: true });
    const byRef = await s.checkIn(d1.manifest.id);
    if (inline.status !== 'update' || byRef.status !== 'update-ref') throw new Error('expected update then update-ref');
    expect(byRef.ref.parts).toHaveLength(2);
    expect(byRef.ref.notBefore).toBeUndefined();
    const doc = v.parse(PlanDocument, await (await s.get(byRef.ref.doc)).json());
    const joined = planFromRef(byRef.ref, doc);
    if (typeof joined === 'string') throw new Error(joined);
    expect(joined).toEqual(inline.plan);
    const fetches = joined.tasks.flatMap((t) => (t.kind === 'fetch' ? [t] : []));
    // Each part's slot and booked source came through: one part per source, each in its own slot.
    expect(fetches.map((t) => t.notBefore)).toEqual(byRef.ref.parts!.map((p) => p.notBefore));
    expect(fetches.map((t) => t.sources[0]!.split('/v1/')[0]).sort()).toEqual(['http://localhost', 'https://cdn.test']);
    expect(fetches.map((t) => t.sources[0]!.split('/v1/')[0])).toEqual(byRef.ref.parts!.map((p) => (p.first ? 'http://localhost' : 'https://cdn.test')));
  });

  it('serves the document compressed, with a strong ETag and 304, and to HEAD', async () => {
    const s = await setup();
    await s.publish(await v1());
    const a = await s.checkIn(null);
    if (a.status !== 'update-ref') throw new Error('expected update-ref');
    const identity = Buffer.from(await (await s.get(a.ref.doc)).arrayBuffer());
    for (const [coding, decode] of [['br', brotliDecompressSync], ['gzip', gunzipSync]] as const) {
      const res = await s.get(a.ref.doc, { 'accept-encoding': coding });
      expect(res.headers.get('content-encoding')).toBe(coding);
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      const packed = Buffer.from(await res.arrayBuffer());
      expect(packed.byteLength).toBeLessThan(identity.byteLength);
      expect(decode(packed).equals(identity)).toBe(true);
      const etag = res.headers.get('etag')!;
      expect(etag).toBe(`"${planDocHash(a.ref.doc)}-${coding}"`);
      expect((await s.get(a.ref.doc, { 'accept-encoding': coding, 'if-none-match': etag })).status).toBe(304);
      // As blobs answer it: a list, a weakened tag (a proxy that recompressed), `*`; another coding's tag is not a match.
      expect((await s.get(a.ref.doc, { 'accept-encoding': coding, 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
      expect((await s.get(a.ref.doc, { 'accept-encoding': coding, 'if-none-match': '*' })).status).toBe(304);
      expect((await s.get(a.ref.doc, { 'accept-encoding': coding, 'if-none-match': `"${planDocHash(a.ref.doc)}"` })).status).toBe(200);
    }
    const head = await s.get(a.ref.doc, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(identity.byteLength));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('another server process on the same database serves the document it never answered a check-in for', async () => {
    const first = await setup();
    const d1 = await v1();
    await first.publish(d1);
    await first.publish(await v2());
    const a = await first.checkIn(d1.manifest.id);
    if (a.status !== 'update-ref') throw new Error('expected update-ref');
    const want = Buffer.from(await (await first.get(a.ref.doc)).arrayBuffer());
    const second = await setup({ dir: first.dir });
    const res = await second.get(a.ref.doc);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(want)).toBe(true);
  });

  it('works mounted under a prefix: the document is made for the origin the check-in saw', async () => {
    const s = await setup({ prefix: '/updraft/' });
    await s.publish(await v1());
    const a = await s.checkIn(null);
    if (a.status !== 'update-ref') throw new Error('expected update-ref');
    const res = await s.get(a.ref.doc);
    expect(res.status).toBe(200);
    const doc = v.parse(PlanDocument, JSON.parse(await res.text()));
    expect(doc.fetch.bases).toEqual(['http://localhost/updraft/']);
  });

  it('refuses a malformed path (400), a document that is not current or never was, and a release the channel does not offer (404)', async () => {
    const s = await setup();
    const d1 = await v1();
    await s.publish(d1);
    const a = await s.checkIn(null);
    if (a.status !== 'update-ref') throw new Error('expected update-ref');
    for (const bad of ['v1/plans/demo/stable/-/' + d1.manifest.id + '/abc', 'v1/plans/demo/stable/-/' + d1.manifest.id, 'v1/plans/demo/st%2Fable/-/' + d1.manifest.id + '/' + '0'.repeat(64)]) {
      const res = await s.get(bad);
      expect(res.status, bad).toBe(400);
      expect(await errorCode(res)).toBe('invalid_path');
    }
    const wrongHash = a.ref.doc.replace(/[0-9a-f]{64}$/, '0'.repeat(64));
    for (const gone of [wrongHash, a.ref.doc.replace('/stable/', '/beta/'), a.ref.doc.replace('v1/plans/demo/', 'v1/plans/other/')]) {
      const res = await s.get(gone);
      expect(res.status, gone).toBe(404);
      // A 404 here may be a moment's (a server behind on a publish): no cache may keep it.
      expect(res.headers.get('cache-control'), gone).toBe('no-store');
      expect(res.headers.get('access-control-allow-origin'), gone).toBe('*');
      expect(await errorCode(res)).toBe('not_found');
    }
    // Two releases later, v1 is neither the channel's release nor its previous one.
    expect((await s.get(a.ref.doc)).status).toBe(200);
    await s.publish(await v2());
    expect((await s.get(a.ref.doc)).status).toBe(200);
    await s.publish(await v3());
    const res = await s.get(a.ref.doc);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('not_found');
  });

  it('by default only a document of planRefMinBytes (8 KB) or more goes by reference: a few changed files come inline', async () => {
    const s = await setup({ planRefMinBytes: 8192 });
    const d1 = await v1();
    await s.publish(d1);
    await s.publish(await v2());
    expect((await s.checkIn(d1.manifest.id)).status).toBe('update');
    // A release of 200 files: its first install's document holds the whole manifest.
    const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`assets/chunk-${i}.js`, `export const x = ${i};`]));
    const big = await fakeDist({ 'index.html': '<h1>big</h1>', ...files }, { version: '3' });
    await s.publish(big);
    const first = await s.checkIn(null);
    if (first.status !== 'update-ref') throw new Error(`expected update-ref, got ${first.status}`);
    const doc = await s.get(first.ref.doc);
    expect((await doc.arrayBuffer()).byteLength).toBeGreaterThanOrEqual(8192);
    // Still inline for a worker before 0.4.
    expect((await s.checkIn(null, { compactPlans: true })).status).toBe('update');
  });

  it('a worker without the cap, or a plan with nothing to fetch, gets the plan inline', async () => {
    const s = await setup();
    const d1 = await v1();
    await s.publish(d1);
    expect((await s.checkIn(null, { compactPlans: true })).status).toBe('update');
    expect((await s.checkIn(null, {})).status).toBe('update');
    // A release made only of parts v2 has needs no fetch from v2.
    const sub = await fakeDist({ 'index.html': '<h1>v2</h1>', 'assets/shared.css': 'body{}' }, { version: '2b' });
    const d2 = await v2();
    await s.publish(d2);
    await s.publish(sub);
    const none = await s.checkIn(d2.manifest.id);
    expect(none.status).toBe('update');
    expect(none.status === 'update' && none.plan.tasks.filter((t) => t.kind === 'fetch')).toEqual([]);
  });
});
