import { describe, expect, test } from 'vitest';
import { registerUpdraft } from './register.js';
import { UpdraftError } from '../protocol/errors.js';

describe('registerUpdraft outside a browser page', () => {
  // A module-level `registerUpdraft()` (the migration guide's React hook) also runs during SSR.
  test('in Node (SSR) it returns a client whose every request rejects with code internal, and never throws', async () => {
    const updraft = registerUpdraft();
    expect(updraft.workbox).toBeNull();
    expect(updraft.pending).toBeNull();
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof UpdraftError ? e.code : String(e)));
    expect(await code(updraft.controlled)).toBe('internal');
    expect(await code(updraft.checkNow())).toBe('internal');
    expect(await code(updraft.applyUpdate())).toBe('internal');
    expect(await code(updraft.release())).toBe('internal');
    expect(await code(updraft.ready())).toBe('internal');
    await expect(updraft.controlled).rejects.toThrow(/not available here \(no navigator/);
    expect(typeof updraft.on('update-ready', () => {})).toBe('function');
  });
});
