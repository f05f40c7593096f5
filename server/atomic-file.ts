/**
 * Files that appear whole or not at all: written under a temp name, then renamed. The temp name
 * carries the writer's pid, which is how `BlobStore.removeStaleTemp` tells a crashed writer's
 * leftovers (`<final>.<pid>-<hex>.tmp`) from a live one's.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';

export function tempPathFor(final: string): string {
  return `${final}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
}

/** `bytes` at `final`, never a truncated file under that name; the temp file is removed on failure. */
export async function writeFileAtomic(final: string, bytes: Uint8Array): Promise<void> {
  const temp = tempPathFor(final);
  try {
    await writeFile(temp, bytes);
    await rename(temp, final);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
}
