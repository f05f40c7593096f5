/**
 * What the server signs in a plan, and how keys are named. Both sides derive the signed bytes
 * from the plan object with `planStatement`, so the server can sign once per cached template and
 * still personalise each answer:
 *
 * - Signed: everything that decides *what* a client installs (the manifest whole, also when the
 *   plan carried it as a `releasePatch`) and *when it may be refused*: app,
 *   from, to, toSeq, rollback, activation, issuedAt, expiresAt, the whole release manifest, and
 *   every task with its part hash, size and the *set* of its sources.
 * - Not signed (per client): `planId`, `servedAt`, each fetch's `notBefore`, and the order of its
 *   sources. A network attacker can only delay a download or reorder sources already signed;
 *   every byte is still checked against a signed hash.
 *
 * The bytes are canonical JSON: object keys sorted, no whitespace. Every value in a plan is a
 * string, a safe integer, a boolean, null, an array or an object, for which JSON.stringify is
 * defined exactly by ECMA-262 (as in RFC 8785), so a browser and Node produce the same bytes.
 */
import * as v from 'valibot';
import type { Plan } from './plan.js';

/** Raw Ed25519 public key (32 bytes) as text: `ed25519:<base64url>`. What `updraft keys generate` prints. */
export const PUBLIC_KEY_PREFIX = 'ed25519:';

export const KeyId = v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'));

export const PlanSignature = v.object({
  /** `keyIdOf(publicKey)`: which trusted key to check with. */
  keyId: KeyId,
  /** Ed25519 signature of `planStatement(plan)`, base64url. */
  sig: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature')),
});
export type PlanSignature = v.InferOutput<typeof PlanSignature>;

/** The canonical JSON of a plan's signed part (see the file comment). */
export function planStatement(plan: Plan): string {
  const {
    planId: _planId,
    servedAt: _servedAt,
    signatures: _signatures,
    // A transport form of `release`: the worker rebuilds `release` from it, and that is signed.
    releasePatch: _releasePatch,
    release,
    tasks,
    rollback,
    ...rest
  } = plan;
  const signedTasks = tasks.map((t) => {
    if (t.kind !== 'fetch') return t;
    const { notBefore: _notBefore, sources, ...task } = t;
    return { ...task, sources: [...sources].sort() };
  });
  // An absent flag and `false` mean the same and must sign the same.
  // Asset order carries no meaning (the release id sorts them too), and a rebuilt manifest has its own.
  const assets = [...release.assets].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return canonicalJson({ ...rest, release: { ...release, assets }, rollback: rollback === true, tasks: signedTasks, v: 1 });
}

/** JSON with object keys sorted at every level and `undefined` members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new TypeError(`canonicalJson: ${value} is not a safe integer`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

export function encodePublicKey(raw: Uint8Array): string {
  return PUBLIC_KEY_PREFIX + base64url(raw);
}

/** The raw 32 key bytes of `ed25519:<base64url>`, or null when the text is not one. */
export function decodePublicKey(text: string): Uint8Array | null {
  const t = text.trim();
  if (!t.startsWith(PUBLIC_KEY_PREFIX)) return null;
  const raw = fromBase64url(t.slice(PUBLIC_KEY_PREFIX.length));
  return raw && raw.length === 32 ? raw : null;
}

/** First 8 bytes of the SHA-256 of the raw public key, hex: short, stable, and says nothing secret. */
export async function keyIdOf(raw: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw as Uint8Array<ArrayBuffer>));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
