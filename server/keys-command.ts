/** `updraft keys generate` and reading the keys `updraft serve` signs with. */
import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
 * get a build trusting the new one. Both go to temp files beside their targets first and are
 * renamed into place, so a failure leaves neither a half-written file nor a key without its .pub.
 */
export async function generateKeyFiles(base: string, force = false): Promise<GeneratedKeyFiles> {
  const key = await generateSigningKey();
  const privateKeyFile = resolve(`${base}.key`);
  const publicKeyFile = resolve(`${base}.pub`);
  const exists = () => new CliError('exists', `${privateKeyFile} exists; pass --force to replace it (clients trusting it will refuse plans signed by the new key)`);
  if (!force && (await lstat(privateKeyFile).then(() => true, () => false))) throw exists();
  const suffix = `.tmp-${randomBytes(6).toString('hex')}`;
  const [tmpKey, tmpPub] = [privateKeyFile + suffix, publicKeyFile + suffix];
  const oldPub = publicKeyFile + suffix + '.old';
  // Placed first, and taken back if the second fails: without --force the new .key (it was not
  // there), with --force the old .pub (the old .key is still in place then).
  let undo: (() => Promise<unknown>) | null = null;
  let target = publicKeyFile;
  try {
    await writeFile(tmpPub, `${key.publicKey}\n`, { flag: 'wx' });
    target = privateKeyFile;
    await writeFile(tmpKey, key.privatePem, { mode: 0o600, flag: 'wx' });
    await chmod(tmpKey, 0o600); // whatever the umask; the replaced key's mode does not carry over a rename
    if (force) {
      const hadPub = await link(publicKeyFile, oldPub).then(() => true, () => false);
      target = publicKeyFile;
      await rename(tmpPub, publicKeyFile);
      undo = () => (hadPub ? rename(oldPub, publicKeyFile) : rm(publicKeyFile, { force: true }));
      target = privateKeyFile;
      await rename(tmpKey, privateKeyFile);
    } else {
      // link() refuses an existing target, so a key made since the check above is not replaced.
      await link(tmpKey, privateKeyFile).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? exists() : e;
      });
      undo = () => rm(privateKeyFile, { force: true });
      target = publicKeyFile;
      await rename(tmpPub, publicKeyFile);
    }
  } catch (e) {
    await undo?.().catch(() => {});
    if (e instanceof CliError || !(e as NodeJS.ErrnoException).code) throw e;
    throw new CliError('io', `cannot write ${target}: ${(e as Error).message}`);
  } finally {
    await Promise.all([tmpKey, tmpPub, oldPub].map((f) => rm(f, { force: true })));
  }
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
        // The disk's failure, as for --token-file: `usage` is for a file that is there but no such key.
        throw new CliError('io', `cannot read signing key ${file}: ${(e as Error).message}`);
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
