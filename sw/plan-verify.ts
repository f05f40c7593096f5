/**
 * The checks a plan passes before it is stored, after TUF's client workflow: a signature by a
 * trusted key (`SwConfig.publicKeys`), freshness on this device's clock (freeze and replay), issued
 * for the release this device runs (`from`: replay to another device), and no move to a lower
 * release sequence unless the signed plan says it is a rollback. The manifest
 * itself is part of what is signed, and its id is its content hash (`checkManifestConsistency`),
 * so the release staged is exactly the one the server signed.
 */
import * as ed from '@noble/ed25519';
import { decodePublicKey, fromBase64url, keyIdOf, planStatement, type ErrorCode, type Plan } from '../protocol/index.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';

/** How far this device's clock may run ahead of the server's before a valid plan looks expired. */
export const MAX_CLOCK_SKEW_MS = 3600_000;
export const SEQS_MAX = 32;

export interface PlanProblem {
  code: ErrorCode;
  message: string;
}

interface TrustedKey {
  keyId: string;
  raw: Uint8Array;
  webCrypto: Promise<CryptoKey | null>;
}

const trusted = new WeakMap<SwContext, Promise<TrustedKey[]>>();

/** The configured keys, decoded once per worker; a malformed key is a build mistake and fails loudly. */
function trustedKeys(ctx: SwContext): Promise<TrustedKey[]> {
  let keys = trusted.get(ctx);
  if (!keys) {
    keys = Promise.all(
      (ctx.config.publicKeys ?? []).map(async (text) => {
        const raw = decodePublicKey(text);
        if (!raw) throw new Error(`updraft: SwConfig.publicKeys has a malformed key: ${text.slice(0, 20)}…`);
        const webCrypto = crypto.subtle
          .importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
          .catch(() => null); // No Ed25519 in this browser's WebCrypto: @noble/ed25519 verifies.
        return { keyId: await keyIdOf(raw), raw, webCrypto };
      }),
    );
    trusted.set(ctx, keys);
  }
  return keys;
}

export async function verifySignature(key: TrustedKey, sig: Uint8Array, data: Uint8Array): Promise<boolean> {
  const wc = await key.webCrypto;
  if (wc) return crypto.subtle.verify({ name: 'Ed25519' }, wc, sig as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
  return ed.verifyAsync(sig, data, key.raw);
}

/** Null when a trusted key signed exactly this plan (or none is configured); else why not. */
export async function checkSignature(ctx: SwContext, plan: Plan): Promise<PlanProblem | null> {
  const keys = await trustedKeys(ctx);
  if (keys.length === 0) return null;
  const sigs = plan.signatures ?? [];
  // The usual cause: a build with publicKeys published to a server started without its key.
  if (sigs.length === 0) return { code: 'signature', message: 'plan is not signed, and this worker was built with publicKeys: start the update server with the matching --signing-key' };
  const data = new TextEncoder().encode(planStatement(plan));
  const unknown: string[] = [];
  const bad: string[] = [];
  // Any one trusted signature is enough: during a rotation a plan carries the current and the next key's.
  for (const s of sigs) {
    const key = keys.find((k) => k.keyId === s.keyId);
    if (!key) {
      unknown.push(s.keyId);
      continue;
    }
    const sig = fromBase64url(s.sig);
    try {
      if (sig && sig.length === 64 && (await verifySignature(key, sig, data))) return null;
    } catch (e) {
      ctx.log.warn(`signature check: ${describeError(e)}`);
    }
    bad.push(s.keyId);
  }
  if (bad.length) return { code: 'signature', message: `the signature by key ${bad.join(', ')} does not match the plan` };
  return { code: 'signature', message: `signed only by keys this worker does not trust (${unknown.join(', ')})` };
}

/** Every check `acceptPlan` makes of a plan from the network; null when it may be stored. */
export async function verifyPlan(ctx: SwContext, plan: Plan): Promise<PlanProblem | null> {
  const signature = await checkSignature(ctx, plan);
  if (signature) return signature;
  // Server clock against ours: only a gross difference (a replayed old plan) trips it.
  const now = ctx.adapter.now();
  if (plan.expiresAt + MAX_CLOCK_SKEW_MS < now) {
    return { code: 'plan_expired', message: `plan expired at ${new Date(plan.expiresAt).toISOString()}, before it arrived` };
  }
  // A plan is issued for the release this device runs (`from`, signed; the server writes the
  // release the check-in named). A captured plan replayed to a device on another release is
  // refused: that is the only check a fresh device has, which installed its release from the
  // build's manifest and knows no sequence for it until its first plan, so the floor below is
  // empty and a signed, unexpired plan to an older release would otherwise pass.
  const ptr = await ctx.store.pointers();
  if (plan.from !== ptr.active) {
    return { code: 'downgrade', message: `plan issued for a device on ${plan.from ?? 'no release'}, this one runs ${ptr.active ?? 'none'}` };
  }
  const floor = await seqFloor(ctx);
  if (floor && plan.toSeq <= floor.seq && plan.to !== floor.release && plan.rollback !== true) {
    return { code: 'downgrade', message: `plan to sequence ${plan.toSeq} is not above ${floor.seq} (${floor.release}) and is no rollback directive` };
  }
  return null;
}

/** The highest sequence among the active and staged releases, where known. */
async function seqFloor(ctx: SwContext): Promise<{ seq: number; release: string } | null> {
  const [ptr, seqs] = await Promise.all([ctx.store.pointers(), ctx.store.getMeta('releaseSeqs')]);
  const known = new Map(seqs ?? []);
  let floor: { seq: number; release: string } | null = null;
  for (const id of [ptr.active, ptr.staged]) {
    const seq = id ? known.get(id) : undefined;
    if (id && seq !== undefined && (!floor || seq > floor.seq)) floor = { seq, release: id };
  }
  return floor;
}

/** Remembers the sequence of a plan's target, so the release it installs sets the floor. */
export async function rememberSeq(ctx: SwContext, plan: Plan): Promise<void> {
  const seqs = ((await ctx.store.getMeta('releaseSeqs')) ?? []).filter(([id]) => id !== plan.to);
  seqs.push([plan.to, plan.toSeq]);
  await ctx.store.setMeta('releaseSeqs', seqs.slice(-SEQS_MAX));
}
