/**
 * Ed25519 plan signing with Node's crypto. Several keys sign side by side during a key rotation:
 * clients trusting the current key check its signature, clients built with the next key check
 * that one (README "Key rotation").
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { base64url, encodePublicKey, keyIdOf, UpdraftError, type PlanSignature } from '../protocol/index.js';

export interface SigningKey {
  keyId: string;
  /** `ed25519:<base64url>`, what the Vite plugin's `publicKeys` takes. */
  publicKey: string;
  privateKey: KeyObject;
}

export type PlanSigner = (statement: string) => PlanSignature[];

/** Reads a PKCS#8 PEM private key (what `updraft keys generate` writes); anything else is a clear error. */
export async function loadSigningKey(pem: string | KeyObject, label = 'signing key'): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = typeof pem === 'string' ? createPrivateKey(pem) : pem;
  } catch (e) {
    throw new UpdraftError('bad_request', `${label}: not a PEM private key (${(e as Error).message})`);
  }
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new UpdraftError('bad_request', `${label}: must be an Ed25519 private key (got ${privateKey.asymmetricKeyType ?? privateKey.type})`);
  }
  const raw = rawPublicKey(createPublicKey(privateKey));
  return { keyId: await keyIdOf(raw), publicKey: encodePublicKey(raw), privateKey };
}

export function createPlanSigner(keys: readonly SigningKey[]): PlanSigner | null {
  if (keys.length === 0) return null;
  return (statement) => {
    const data = Buffer.from(statement, 'utf8');
    return keys.map((k) => ({ keyId: k.keyId, sig: base64url(sign(null, data, k.privateKey)) }));
  };
}

/** A new key pair: the private key as PKCS#8 PEM, the public key as `ed25519:<base64url>`. */
export async function generateSigningKey(): Promise<{ privatePem: string; publicKey: string; keyId: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(publicKey);
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: encodePublicKey(raw),
    keyId: await keyIdOf(raw),
  };
}

/** The 32 raw bytes of an Ed25519 public key: the last 32 bytes of its SPKI DER (RFC 8410). */
function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 32));
}
