/** `updraft keys generate` and reading the keys `updraft serve` signs with. */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CliError } from './admin-client.js';
import { createPlanSigner, generateSigningKey, loadSigningKey, type PlanSigner } from './plan-signer.js';

export interface GeneratedKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
  publicKey: string;
  keyId: string;
}

/**
 * Writes `<base>.key` (PKCS#8 PEM, mode 0600) and `<base>.pub` (`ed25519:<base64url>`). Never
 * overwrites a private key unless `force`: losing it means clients refuse every plan until they
 * get a build trusting the new one.
 */
export async function generateKeyFiles(base: string, force = false): Promise<GeneratedKeyFiles> {
  const key = await generateSigningKey();
  const privateKeyFile = resolve(`${base}.key`);
  const publicKeyFile = resolve(`${base}.pub`);
  try {
    await writeFile(privateKeyFile, key.privatePem, { mode: 0o600, flag: force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError('exists', `${privateKeyFile} exists; pass --force to replace it (clients trusting it will refuse plans signed by the new key)`);
    throw e;
  }
  await writeFile(publicKeyFile, `${key.publicKey}\n`);
  return { privateKeyFile, publicKeyFile, publicKey: key.publicKey, keyId: key.keyId };
}

/** The signer for `serve`: each file a PEM private key; all of them sign (a key rotation). */
export async function signerFromFiles(files: readonly string[]): Promise<PlanSigner | null> {
  const keys = await Promise.all(
    files.map(async (file) => {
      let pem: string;
      try {
        pem = await readFile(file, 'utf8');
      } catch (e) {
        throw new CliError('usage', `cannot read signing key ${file}: ${(e as Error).message}`);
      }
      try {
        return await loadSigningKey(pem, file);
      } catch (e) {
        throw new CliError('usage', (e as Error).message);
      }
    }),
  );
  return createPlanSigner(keys);
}
