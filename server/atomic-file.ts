/**
 * Files that appear whole or not at all: written under a temp name, fsynced, then renamed. The temp
 * name carries the writer's pid, which is how `BlobStore.removeStaleTemp` tells a crashed writer's
 * leftovers (`<final>.<pid>-<hex>.tmp`) from a live one's.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export function tempPathFor(final: string): string {
  return `${final}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * `bytes` at `final`, never a truncated file under that name; the temp file is removed on failure.
 * The data is synced before the rename: without it a power loss can keep the rename and lose the
 * data (ext4 and XFS delay allocation), leaving an empty file under a name that is never rewritten.
 */
export async function writeFileAtomic(final: string, bytes: Uint8Array): Promise<void> {
  const temp = tempPathFor(final);
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, final);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
  await syncDir(dirname(final));
}

/** Makes a rename durable; some platforms (Windows) cannot open directories, which is fine to skip. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}
