import { createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { base64url, decodePublicKey, expandPlan, fromBase64url, PATHS, planStatement, type CheckInResponse, type Plan, type ReleaseManifest } from '../protocol/index.js';
import { SIGNED_PART_MAX_AGE_MS } from './answer-json.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import { createPlanSigner, generateSigningKey, loadSigningKey } from './plan-signer.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';

function verifies(plan: Plan, publicKey: string, sig: string): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(decodePublicKey(publicKey)!) }, format: 'jwk' });
  return verify(null, Buffer.from(planStatement(plan)), key, Buffer.from(fromBase64url(sig)!));
}

async function setup(pems: string[]) {
  const { dir, store } = tempStore({ prefix: 'updraft-sign-' });
  const keys = await Promise.all(pems.map((p) => loadSigningKey(p)));
  let now = 1_700_000_000_000;
  const app = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN, now: () => now, signer: createPlanSigner(keys) });
  const admin = (method: string, path: string, body: unknown) =>
    app.request('/' + path, { method, headers: { Authorization: `Bearer ${TOKEN}` }, body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) });
  const published = new Map<string, ReleaseManifest>();
  const publish = async (d: FakeDist) => {
    published.set(d.manifest.id, d.manifest);
    for (const a of [...d.manifest.assets, ...(d.manifest.sw ? [d.manifest.sw] : [])]) expect((await admin('PUT', PATHS.adminBlob(a.sha256), d.files.get(a.path)!)).status).toBe(201);
    expect((await admin('POST', PATHS.adminReleases, d.manifest)).status).toBe(201);
    expect((await admin('PUT', PATHS.adminChannel('stable'), { release: d.manifest.id, percent: 100 })).status).toBe(200);
  };
  const plan = async (client: string, release: string | null = null): Promise<Plan> => {
    const res = await app.request('/' + PATHS.checkIn, { method: 'POST', body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }) });
    const body = (await res.json()) as CheckInResponse;
    if (body.status !== 'update') throw new Error('expected a plan');
    // A client on a known release gets the manifest as a patch: rebuild it as the worker does.
    const base = body.plan.releasePatch ? published.get(body.plan.releasePatch.base) : null;
    return expandPlan(body.plan, base)!;
  };
  const channel = async (release: string) => expect((await admin('PUT', PATHS.adminChannel('stable'), { release, percent: 100 })).status).toBe(200);
  return { keys, publish, plan, channel, tick: (ms: number) => (now += ms), now: () => now };
}

const v1 = () => fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/a-1.js': '1' }, { version: '1' });
const v2 = () => fakeDist({ 'index.html': '<h1>v2</h1>', 'assets/a-2.js': '2' }, { version: '2' });

describe('plan signing', () => {
  it('every plan carries one verifiable signature per key; clients share it, while plan id and servedAt are their own', async () => {
    const [current, next] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    const s = await setup([current.privatePem, next.privatePem]);
    await s.publish(await v1());
    const a = await s.plan('client-aaaaaaaa');
    s.tick(SIGNED_PART_MAX_AGE_MS - 1);
    const b = await s.plan('client-bbbbbbbb');
    expect(a.signatures?.map((x) => x.keyId)).toEqual([current.keyId, next.keyId]);
    for (const [sig, key] of [[a.signatures![0]!.sig, current.publicKey], [a.signatures![1]!.sig, next.publicKey]] as const) {
      expect(verifies(a, key, sig)).toBe(true);
      expect(verifies(b, key, sig)).toBe(true);
    }
    expect(b.signatures).toEqual(a.signatures);
    expect(b.planId).not.toBe(a.planId);
    expect(b.servedAt).toBe(a.servedAt! + SIGNED_PART_MAX_AGE_MS - 1);
    expect(b.issuedAt).toBe(a.issuedAt);
    // Signed a second ago at most: freshness on the client is measured from a recent time.
    s.tick(1);
    const c = await s.plan('client-cccccccc');
    expect(c.issuedAt).toBe(s.now());
    expect(c.expiresAt).toBe(c.issuedAt + 86_400_000);
    expect(c.signatures![0]!.sig).not.toBe(a.signatures![0]!.sig);
    expect(verifies(c, current.publicKey, c.signatures![0]!.sig)).toBe(true);
  });

  it('a rollback is signed as one: rolling the channel back gives the newer clients a plan with rollback true', async () => {
    const key = await generateSigningKey();
    const s = await setup([key.privatePem]);
    const d1 = await v1();
    const d2 = await v2();
    await s.publish(d1);
    await s.publish(d2);
    expect((await s.plan('client-aaaaaaaa', d1.manifest.id)).rollback).toBe(false);
    await s.channel(d1.manifest.id); // back to v1: an older sequence
    const back = await s.plan('client-aaaaaaaa', d2.manifest.id);
    expect(back).toMatchObject({ to: d1.manifest.id, rollback: true });
    expect(verifies(back, key.publicKey, back.signatures![0]!.sig)).toBe(true);
    expect(verifies({ ...back, rollback: false }, key.publicKey, back.signatures![0]!.sig)).toBe(false);
  });

  it('a signing key that is not an Ed25519 private key is refused with a clear error', async () => {
    await expect(loadSigningKey('not a key')).rejects.toThrow(/not a PEM private key/);
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadSigningKey(rsa)).rejects.toThrow(/must be an Ed25519 private key \(got rsa\)/);
  });
});
