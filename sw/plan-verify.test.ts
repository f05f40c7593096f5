/** Signed plans, freshness and rollback protection, through the real runtime with a fake clock. */
import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import {
  base64url,
  encodePublicKey,
  planDocPath,
  sha256Hex,
  keyIdOf,
  makeReleasePatch,
  planStatement,
  type CheckNowReply,
  type Plan,
  type ReportBatch,
  type SwReply,
  type WirePlan,
} from '../protocol/index.js';
import { switchToStaged } from './activation.js';
import { verifySignature } from './plan-verify.js';
import { Runtime } from './runtime.js';
import { buildPlan, buildRelease, byReference, installedRuntime, TestAdapter, type BuiltRelease } from './testing.js';

const APP = 'https://app.test/';
const CDN = 'https://cdn.test/b/';
const CHECK_IN = APP + 'v1/check-in';
const REPORTS = APP + 'v1/reports';
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

const V1 = { 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)' };
const V2 = { 'index.html': '<h1>v2</h1>', 'assets/app-2.js': 'console.log(2)' };
const V3 = { 'index.html': '<h1>v3</h1>', 'assets/app-3.js': 'console.log(3)' };

interface Key { secret: Uint8Array; publicKey: string; keyId: string }

async function newKey(): Promise<Key> {
  const secret = ed.utils.randomSecretKey();
  const raw = await ed.getPublicKeyAsync(secret);
  return { secret, publicKey: encodePublicKey(raw), keyId: await keyIdOf(raw) };
}

async function sign(plan: Plan, ...keys: Key[]): Promise<Plan> {
  const data = new TextEncoder().encode(planStatement(plan));
  const signatures = await Promise.all(keys.map(async (k) => ({ keyId: k.keyId, sig: base64url(await ed.signAsync(data, k.secret)) })));
  return { ...plan, signatures };
}

function installed(publicKeys: string[]) {
  return installedRuntime(V1, { server: '/', app: 'demo', channel: 'stable', manifest: 'updraft-release.json', concurrency: 3, bootTimeoutMs: 0, publicKeys });
}

function serve(a: TestAdapter, rel: BuiltRelease) {
  for (const [sha, text] of rel.blobs) a.server.on(CDN + sha, new Response(text));
}

async function offerAndCheck(a: TestAdapter, rt: Runtime, plan: WirePlan): Promise<CheckNowReply> {
  return answerAndCheck(a, rt, { status: 'update', nextCheckIn: 3600, plan });
}

/** The worker checks in, gets `answer`, and runs what it stored. */
async function answerAndCheck(a: TestAdapter, rt: Runtime, answer: unknown): Promise<CheckNowReply> {
  a.server.on(CHECK_IN, json(answer));
  const reply = (await rt.onMessage({ type: 'updraft:check-now' }, 'window-1')) as SwReply<CheckNowReply>;
  if (!reply.ok) throw new Error(reply.message);
  await (await rt.runner()).run();
  return reply.value;
}

const reportsSent = (a: TestAdapter) => a.server.requests.filter((r) => r.url === REPORTS).flatMap((r) => (JSON.parse(r.body ?? '{}') as ReportBatch).reports);

/** The plan was refused: nothing stored, nothing fetched, the running release untouched, the refusal reported and broadcast. */
async function expectRefused(a: TestAdapter, rt: Runtime, reply: CheckNowReply, active: string, code: string) {
  expect(reply).toMatchObject({ result: 'error', code });
  const s = await rt.state();
  expect(s.active).toBe(active);
  expect(s.staged).toBeNull();
  // The refused plan replaced nothing: any plan still stored is one that was accepted before it.
  if (s.plan) expect(s.plan.to).toBe(active);
  expect(a.server.urls().filter((u) => u.startsWith(CDN))).toEqual([]);
  expect(reportsSent(a)).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'failed', code })]));
  expect(a.events('failed')).toEqual(expect.arrayContaining([expect.objectContaining({ code })]));
}

describe('signed plans', () => {
  it('a plan signed by a trusted key is accepted and lands; per-client fields (plan id, notBefore, source order) are outside the signature', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    serve(a, r2);
    const signed = await sign(buildPlan(r2, { from: r1.manifest.id, sources: ['https://app.test/v1/blobs/{sha}', CDN + '{sha}'] }), key);
    // What a server does per client after signing once: its own plan id, slots and source order.
    const personal: Plan = {
      ...signed,
      planId: 'another-client-plan',
      servedAt: signed.issuedAt + 500,
      tasks: signed.tasks.map((t) => (t.kind === 'fetch' ? { ...t, notBefore: t.notBefore + 1, sources: [...t.sources].reverse() } : t)),
    };
    expect(await offerAndCheck(a, rt, personal)).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('by reference: the signatures in the answer cover the document; a document rewritten and renamed to its new hash is refused', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serve(a, r2);
    const bases = [CDN, APP];
    for (const [sha, text] of r2.blobs) a.server.on(`${bases[0]}v1/blobs/${sha}`, new Response(text));
    const split = await byReference(buildPlan(r2, { from: r1.manifest.id, sources: bases.map((b) => `${b}v1/blobs/{sha}`) }), bases, async (p) => (await sign(p, key)).signatures!);
    // Whoever can rewrite the answer can rewrite the document too, and name it by its new hash:
    // another manifest and another base. Only the signature stands in the way.
    for (const edit of [
      (d: Record<string, unknown>) => ({ ...d, release: r3.manifest, to: r3.manifest.id }),
      (d: Record<string, unknown>) => ({ ...d, fetch: { ...(d.fetch as object), bases: ['https://evil.test/', APP] } }),
    ]) {
      const doc = JSON.stringify(edit(JSON.parse(split.doc) as Record<string, unknown>));
      const parsed = JSON.parse(doc) as { to: string };
      const path = planDocPath('demo', 'stable', r1.manifest.id, parsed.to, await sha256Hex(doc));
      a.server.on(APP + path, new Response(doc));
      a.server.clear();
      await expectRefused(a, rt, await answerAndCheck(a, rt, { ...split.answer, ref: { ...split.answer.ref, doc: path } }), r1.manifest.id, 'signature');
    }
    // The document as signed goes through.
    a.server.on(APP + split.path, new Response(split.doc));
    expect(await answerAndCheck(a, rt, split.answer)).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('an unsigned plan is refused with `signature` when keys are configured', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    serve(a, r2);
    a.server.clear();
    const reply = await offerAndCheck(a, rt, buildPlan(r2, { from: r1.manifest.id }));
    await expectRefused(a, rt, reply, r1.manifest.id, 'signature');
    // What the `failed` event and the report say: the usual cause is a server started without the key.
    expect(reply).toMatchObject({ message: 'plan is not signed, and this worker was built with publicKeys: start the update server with the matching --signing-key' });
  });

  it('a tampered plan is refused: another part hash, another manifest, a new source, a flipped rollback flag', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serve(a, r2);
    const signed = await sign(buildPlan(r2, { from: r1.manifest.id }), key);
    const fetch0 = signed.tasks.findIndex((t) => t.kind === 'fetch');
    const tampered: Plan[] = [
      { ...signed, release: { ...signed.release, version: '2.0.1' } },
      { ...signed, to: r3.manifest.id, release: r3.manifest },
      { ...signed, tasks: signed.tasks.map((t, i) => (i === fetch0 && t.kind === 'fetch' ? { ...t, sources: ['https://evil.test/x', ...t.sources] } : t)) },
      { ...signed, tasks: signed.tasks.map((t, i) => (i === fetch0 && t.kind === 'fetch' ? { ...t, size: t.size + 1 } : t)) },
      // A part hash swapped for one of another release's.
      { ...signed, tasks: signed.tasks.map((t, i) => (i === fetch0 && t.kind === 'fetch' ? { ...t, sha256: [...r3.blobs.keys()].find((sha) => !r2.blobs.has(sha))! } : t)) },
      { ...signed, rollback: true },
      { ...signed, expiresAt: signed.expiresAt + 1 },
    ];
    for (const plan of tampered) {
      a.server.clear();
      await expectRefused(a, rt, await offerAndCheck(a, rt, plan), r1.manifest.id, 'signature');
    }
  });

  it('a plan signed by a key the worker does not trust is refused; during a rotation either trusted key is enough', async () => {
    const current = await newKey();
    const next = await newKey();
    const stranger = await newKey();
    const { a, rt, r1 } = await installed([current.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    serve(a, r2);
    a.server.clear();
    const reply = await offerAndCheck(a, rt, await sign(buildPlan(r2, { from: r1.manifest.id }), stranger));
    await expectRefused(a, rt, reply, r1.manifest.id, 'signature');
    expect(reply).toMatchObject({ message: expect.stringContaining(stranger.keyId) });
    // The server signs with the current and the next key: a worker built before the rotation trusts the first.
    expect(await offerAndCheck(a, rt, await sign(buildPlan(r2, { from: r1.manifest.id }), next, current))).toEqual({ result: 'update', release: r2.manifest.id });
  });

  it('a bad signature by a trusted key does not hide a good one by another trusted key', async () => {
    const current = await newKey();
    const next = await newKey();
    const { a, rt, r1 } = await installed([current.publicKey, next.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    serve(a, r2);
    const good = await sign(buildPlan(r2, { from: r1.manifest.id }), current, next);
    const broken = { ...good, signatures: [{ ...good.signatures![0]!, sig: good.signatures![1]!.sig }, good.signatures![1]!] };
    expect(await offerAndCheck(a, rt, broken)).toEqual({ result: 'update', release: r2.manifest.id });
  });

  it('the WebCrypto path and the @noble/ed25519 fallback agree', async () => {
    const key = await newKey();
    const raw = await ed.getPublicKeyAsync(key.secret);
    const data = new TextEncoder().encode('statement');
    const sig = await ed.signAsync(data, key.secret);
    const webCrypto = crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
    for (const k of [{ keyId: key.keyId, raw, webCrypto }, { keyId: key.keyId, raw, webCrypto: Promise.resolve(null) }]) {
      expect(await verifySignature(k, sig, data)).toBe(true);
      expect(await verifySignature(k, sig, new TextEncoder().encode('statemenT'))).toBe(false);
    }
  });

  it('a plan edited in IndexedDB after it was accepted fails at install with `signature`, and nothing is staged', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    const plan = await sign(buildPlan(r2, { from: r1.manifest.id, notBefore: (_, issued) => issued + 60_000 }), key);
    await offerAndCheck(a, rt, plan);
    // A same-origin script rewrites the stored plan (here: the manifest's version) before the downloads are due.
    const stored = (await a.db.getPlan())!;
    await a.db.putPlan({ ...stored, plan: { ...stored.plan, release: { ...stored.plan.release, version: 'evil' } } });
    serve(a, r2);
    a.clock.advance(61_000);
    await rt.wake('test');
    await (await rt.runner()).run();
    const s = await rt.state();
    expect(s.active).toBe(r1.manifest.id);
    expect(s.staged).toBeNull();
    expect(a.events('failed')).toEqual([expect.objectContaining({ code: 'signature' })]);
  });
});

describe('freshness and rollback protection', () => {
  it('a plan that expired long before it arrived is refused with `plan_expired` (a replayed or frozen answer)', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    serve(a, r2);
    const now = a.clock.now();
    // Signed three days ago with a one-day lifetime.
    const old = await sign(buildPlan(r2, { from: r1.manifest.id, issuedAt: now - 3 * 86_400_000, expiresIn: 86_400_000 }), key);
    a.server.clear();
    await expectRefused(a, rt, await offerAndCheck(a, rt, old), r1.manifest.id, 'plan_expired');
    // A clock a few minutes off is no reason to refuse: within MAX_CLOCK_SKEW_MS it is accepted.
    const skewed = await sign(buildPlan(r2, { from: r1.manifest.id, issuedAt: now - 86_400_000 - 600_000, expiresIn: 86_400_000 }), key);
    expect(await offerAndCheck(a, rt, skewed)).toEqual({ result: 'update', release: r2.manifest.id });
  });

  it('a plan to a lower sequence is refused with `downgrade` unless it is a signed rollback directive', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serve(a, r2);
    serve(a, r3);
    expect(await offerAndCheck(a, rt, await sign(buildPlan(r3, { from: r1.manifest.id }), key))).toEqual({ result: 'update', release: r3.manifest.id });
    expect((await rt.state()).active).toBe(r3.manifest.id);
    // A replay of an older, validly signed plan (r2 has the lower sequence).
    a.server.clear();
    const replay = await sign(buildPlan(r2, { from: r3.manifest.id }), key);
    await expectRefused(a, rt, await offerAndCheck(a, rt, replay), r3.manifest.id, 'downgrade');
    // The same sequence for another release is no upgrade either.
    a.server.clear();
    const same = await sign(buildPlan(r2, { from: r3.manifest.id, toSeq: r3.seq }), key);
    await expectRefused(a, rt, await offerAndCheck(a, rt, same), r3.manifest.id, 'downgrade');
    // The server rolling the channel back says so, signed.
    expect(await offerAndCheck(a, rt, await sign(buildPlan(r2, { from: r3.manifest.id, rollback: true }), key))).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a fresh device (its release from the manifest, no sequence known yet) refuses a signed, unexpired plan issued for another release', async () => {
    const key = await newKey();
    // Published before the release this device installs: the lower sequence, say one with a known bug.
    const older = await buildRelease(V3, '0.9.0');
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease(V2, '2.0.0');
    expect(older.seq).toBeLessThan(r1.seq);
    serve(a, older);
    serve(a, r2);
    // Sequences come with plans: a device that installed from the build's manifest knows none, so
    // the sequence floor cannot stand in the way. The plan's signed `from` does.
    const ctx = await rt.ready();
    expect((await ctx.store.getMeta('releaseSeqs')) ?? []).toEqual([]);
    // Captured from a device that checked in with no release (anyone can ask the server for one).
    a.server.clear();
    await expectRefused(a, rt, await offerAndCheck(a, rt, await sign(buildPlan(older, { from: null }), key)), r1.manifest.id, 'downgrade');
    // A rollback directive the server issued to devices on another release.
    a.server.clear();
    await expectRefused(a, rt, await offerAndCheck(a, rt, await sign(buildPlan(older, { from: r2.manifest.id, rollback: true }), key)), r1.manifest.id, 'downgrade');
    // Not only downgrades: an upgrade issued for another release is refused too (it was planned against that release's parts).
    a.server.clear();
    await expectRefused(a, rt, await offerAndCheck(a, rt, await sign(buildPlan(r2, { from: older.manifest.id }), key)), r1.manifest.id, 'downgrade');
    // The plan the server issues this device, for the release it runs, lands.
    expect(await offerAndCheck(a, rt, await sign(buildPlan(r2, { from: r1.manifest.id }), key))).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('an answer overtaken by an activation (issued for the release active when the worker asked) is ignored, not reported as a refusal', async () => {
    const { a, rt, r1 } = await installed([]);
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serve(a, r2);
    serve(a, r3);
    expect(await offerAndCheck(a, rt, buildPlan(r2, { from: r1.manifest.id, activation: 'prompt' }))).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).staged).toBe(r2.manifest.id);
    // The next check-in asks for r1; while its answer is on the way, a page applies r2.
    a.server.on(CHECK_IN, async (req) => {
      expect(((await req.json()) as { release: string }).release).toBe(r1.manifest.id);
      await switchToStaged(await rt.ready(), 'prompt');
      return json({ status: 'update', nextCheckIn: 3600, plan: buildPlan(r3, { from: r1.manifest.id }) });
    });
    a.server.clear();
    const reply = (await rt.onMessage({ type: 'updraft:check-now' }, 'window-1')) as SwReply<CheckNowReply>;
    expect(reply).toEqual({ ok: true, value: { result: 'current' } });
    const s = await rt.state();
    expect(s.active).toBe(r2.manifest.id);
    expect(s.plan?.to).toBe(r2.manifest.id);
    expect(reportsSent(a).filter((r) => r.event === 'failed')).toEqual([]);
    expect(a.events('failed')).toEqual([]);
    // The next check-in, for r2, gets the plan issued for r2.
    expect(await offerAndCheck(a, rt, buildPlan(r3, { from: r2.manifest.id }))).toEqual({ result: 'update', release: r3.manifest.id });
    expect((await rt.state()).active).toBe(r3.manifest.id);
  });

  it('without configured keys, plans are not signature-checked but freshness and sequence still are', async () => {
    const { a, rt, r1 } = await installed([]);
    const r2 = await buildRelease(V2, '2.0.0');
    const r3 = await buildRelease(V3, '3.0.0');
    serve(a, r2);
    serve(a, r3);
    expect(await offerAndCheck(a, rt, buildPlan(r3, { from: r1.manifest.id }))).toEqual({ result: 'update', release: r3.manifest.id });
    expect(await offerAndCheck(a, rt, buildPlan(r2, { from: r3.manifest.id }))).toMatchObject({ result: 'error', code: 'downgrade' });
  });
});

describe('endless data', () => {
  it('a source sending more than the stated size is cut off after size + one chunk, reported, and the next source serves the part', async () => {
    const { a, rt, r1 } = await installed([]);
    const r2 = await buildRelease(V2, '2.0.0');
    const [bigSha] = [...r2.blobs.keys()];
    let pulled = 0;
    let cancelled = false;
    const chunk = new Uint8Array(64 * 1024).fill(120);
    // Endless, without a Content-Length: only reading can tell.
    const endless = () => new Response(new ReadableStream<Uint8Array>({
      pull(c) { pulled += chunk.byteLength; c.enqueue(chunk); },
      cancel() { cancelled = true; },
    }));
    for (const [sha, text] of r2.blobs) {
      a.server.on(CDN + sha, sha === bigSha ? endless : new Response(text));
      a.server.on(APP + 'v1/blobs/' + sha, new Response(text));
    }
    expect(await offerAndCheck(a, rt, buildPlan(r2, { from: r1.manifest.id }))).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(2 * chunk.byteLength);
    expect(a.server.count(APP + 'v1/blobs/' + bigSha)).toBe(1);
    expect(reportsSent(a)).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'rejected', code: 'content', message: expect.stringContaining('cut off') })]));
  });

  it('a Content-Length above the stated size is refused before any byte is read', async () => {
    const { a, rt, r1 } = await installed([]);
    const r2 = await buildRelease(V2, '2.0.0');
    const [bigSha] = [...r2.blobs.keys()];
    let pulled = 0;
    for (const [sha, text] of r2.blobs) {
      a.server.on(CDN + sha, sha === bigSha
        ? () => new Response(new ReadableStream({ pull(c) { pulled++; c.enqueue(new Uint8Array(10)); } }), { headers: { 'content-length': '10000000000' } })
        : new Response(text));
      a.server.on(APP + 'v1/blobs/' + sha, new Response(text));
    }
    expect(await offerAndCheck(a, rt, buildPlan(r2, { from: r1.manifest.id }))).toEqual({ result: 'update', release: r2.manifest.id });
    expect(pulled).toBeLessThanOrEqual(1); // a stream may be asked for its first chunk when made; none is read
  });
});

describe('manifest patches', () => {
  /** The wire form a server sends a client on `base`: the manifest as a patch, signed whole. */
  async function patched(plan: Plan, base: BuiltRelease, key: Key): Promise<WirePlan> {
    const signed = await sign(plan, key);
    const { release, ...rest } = signed;
    return { ...rest, releasePatch: makeReleasePatch(base.manifest, release) };
  }

  it('a plan whose manifest comes as a patch to the running release is rebuilt, verified against the whole manifest\'s signature, and lands', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease({ ...V1, 'assets/app-2.js': 'console.log(2)' }, '2.0.0');
    serve(a, r2);
    const wire = await patched(buildPlan(r2, { from: r1.manifest.id }), { manifest: r1.manifest } as BuiltRelease, key);
    expect(wire.releasePatch!.changed.map((x) => x.path)).toEqual(['assets/app-2.js']);
    expect(await offerAndCheck(a, rt, wire )).toEqual({ result: 'update', release: r2.manifest.id });
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a patch that does not rebuild the signed manifest, or needs a base this worker lacks, is refused and nothing is stored', async () => {
    const key = await newKey();
    const { a, rt, r1 } = await installed([key.publicKey]);
    const r2 = await buildRelease({ ...V1, 'assets/app-2.js': 'console.log(2)' }, '2.0.0');
    serve(a, r2);
    const wire = await patched(buildPlan(r2, { from: r1.manifest.id }), { manifest: r1.manifest } as BuiltRelease, key);
    const dropped = { ...wire, releasePatch: { ...wire.releasePatch!, version: '2.0.0-evil' } };
    expect(await offerAndCheck(a, rt, dropped )).toMatchObject({ result: 'error', code: 'signature' });
    const elsewhere = { ...wire, releasePatch: { ...wire.releasePatch!, base: '0123456789abcdef' } };
    expect(await offerAndCheck(a, rt, elsewhere )).toMatchObject({ result: 'error', code: 'invalid_body' });
    const s = await rt.state();
    expect(s.active).toBe(r1.manifest.id);
    expect(s.plan).toBeNull();
  });
});
