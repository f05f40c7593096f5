import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';

// A spy around the real timingSafeEqual (not a stand-in): it still compares, and the test sees
// that every token check went through it, with equal-length digests.
vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});
const { timingSafeEqual } = await import('node:crypto');
const { AdminTokens } = await import('./admin-auth.js');
const { generateToken } = await import('./admin-token.js');
const { openSqliteStore } = await import('./sqlite-store.js');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('every token check compares 32-byte SHA-256 digests with timingSafeEqual, stored and configured tokens alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-timing-'));
  dirs.push(dir);
  const store = openSqliteStore(dir);
  const { token, stored } = generateToken(['read'], null, 1);
  await store.insertToken(stored);
  const tokens = new AdminTokens(store, [{ token: 'configured-a', scopes: ['publish'] }, { token: 'configured-b', scopes: ['read'] }]);
  const spy = vi.mocked(timingSafeEqual);
  const check = async (presented: string) => {
    spy.mockClear();
    const who = await tokens.verify(presented);
    const calls = spy.mock.calls.map(([a, b]) => [(a as Buffer).length, (b as Buffer).length]);
    return { who, calls };
  };

  const ok = await check(token);
  expect(ok.who?.id).toBe(stored.id);
  expect(ok.calls).toContainEqual([32, 32]);
  // A wrong secret under a real id: compared, not short-cut on the id, then every configured token too.
  const forged = await check(`updraft_${stored.id}_${'B'.repeat(43)}`);
  expect(forged.who).toBeNull();
  expect(forged.calls).toEqual([[32, 32], [32, 32], [32, 32]]);
  // A configured token: all configured digests compared, also after the first matched.
  const configured = await check('configured-a');
  expect(configured.who?.scopes.has('publish')).toBe(true);
  expect(configured.calls).toEqual([[32, 32], [32, 32]]);
  // A token of another length is compared as a digest all the same: its length does not show.
  expect((await check('x'.repeat(500))).calls).toEqual([[32, 32], [32, 32]]);
  await store.close();
});
