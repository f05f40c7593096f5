import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from './sqlite-store.js';
import type { ClientRecord, Store } from './store.js';
import { writeBehind } from './write-behind-store.js';

const rec = (i: number, o: Partial<ClientRecord> = {}): ClientRecord => ({
  id: `client-${String(i).padStart(6, '0')}`, app: 'demo', channel: 'stable', release: null, staged: null, caps: { sync: true, periodicSync: false }, lastSeen: i, ...o,
});

/** An inner store that records each batch it is given. */
function recording() {
  const batches: ClientRecord[][] = [];
  let fail = 0;
  const inner = {
    upsertClient: async (c: ClientRecord) => void batches.push([c]),
    upsertClients: async (cs: readonly ClientRecord[]) => {
      if (fail > 0) {
        fail--;
        throw new Error('database is locked');
      }
      batches.push([...cs]);
    },
    countClients: async () => [{ channel: 'stable', release: null, count: batches.flat().length }],
    close: vi.fn(async () => {}),
  } as unknown as Store;
  return { inner, batches, failNext: (n: number) => void (fail = n) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WriteBehindStore', () => {
  it('flushes every flushMs, in one batch, the latest record of each client', async () => {
    vi.useFakeTimers();
    const { inner, batches } = recording();
    const store = writeBehind(inner, { flushMs: 100, maxRows: 1000 });
    await store.upsertClient(rec(1));
    await store.upsertClient(rec(2));
    await store.upsertClient(rec(1, { lastSeen: 99 }));
    expect(batches).toEqual([]);
    expect(store.pending).toBe(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[rec(2), rec(1, { lastSeen: 99 })]]);
    expect(store.pending).toBe(0);
  });

  it('flushes at once when maxRows clients are pending', async () => {
    vi.useFakeTimers();
    const { inner, batches } = recording();
    const store = writeBehind(inner, { flushMs: 60_000, maxRows: 3 });
    for (let i = 0; i < 7; i++) await store.upsertClient(rec(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.length)).toEqual([3, 3]);
    expect(store.pending).toBe(1);
  });

  it('close() writes what is pending before closing the inner store; countClients reads its own writes', async () => {
    const { inner, batches } = recording();
    const store = writeBehind(inner, { flushMs: 60_000 });
    await store.upsertClient(rec(1));
    expect(await store.countClients()).toEqual([{ channel: 'stable', release: null, count: 1 }]);
    await store.upsertClient(rec(2));
    await store.close();
    expect(batches.flat().map((r) => r.lastSeen)).toEqual([1, 2]);
    expect(inner.close).toHaveBeenCalledOnce();
  });

  it('queueClient queues without a promise, and says false once closed so the caller writes through', async () => {
    vi.useFakeTimers();
    const { inner, batches } = recording();
    const store = writeBehind(inner, { flushMs: 100, maxRows: 1000 });
    expect(store.queueClient(rec(1))).toBe(true);
    expect(store.queueClient(rec(1, { lastSeen: 7 }))).toBe(true);
    expect(store.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(batches).toEqual([[rec(1, { lastSeen: 7 })]]);
    await store.close();
    expect(store.queueClient(rec(2))).toBe(false);
    await store.upsertClient(rec(2));
    expect(batches).toEqual([[rec(1, { lastSeen: 7 })], [rec(2)]]);
  });

  it('close() still closes the inner store when its last write fails, and throws that failure', async () => {
    const { inner, failNext } = recording();
    const store = writeBehind(inner, { flushMs: 60_000, onError: () => {} });
    await store.upsertClient(rec(1));
    failNext(2);
    await expect(store.close()).rejects.toThrow('database is locked');
    expect(inner.close).toHaveBeenCalledTimes(1);
  });

  it('a failed flush keeps its records (under newer ones) and writes them on the next flush', async () => {
    const { inner, batches, failNext } = recording();
    const errors: unknown[] = [];
    const store = writeBehind(inner, { flushMs: 60_000, onError: (e) => errors.push(e) });
    await store.upsertClient(rec(1));
    await store.upsertClient(rec(2));
    failNext(1);
    await store.flush();
    expect(errors).toHaveLength(1);
    expect(store.pending).toBe(2);
    await store.upsertClient(rec(2, { lastSeen: 50 }));
    await store.close();
    expect(batches.flat()).toEqual([rec(1), rec(2, { lastSeen: 50 })]);
  });

  it('against SQLite: a record queued while an earlier write is failing is not overwritten by that batch\'s retry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'updraft-wb-order-'));
    try {
      const sqlite = openSqliteStore(dir);
      const write = sqlite.upsertClients.bind(sqlite);
      let failing: ((err: Error) => void) | null = null;
      // The first write hangs until the test fails it (a database timing out); later ones go through.
      sqlite.upsertClients = (rows) => (failing === null && rows.length > 0 && rows[0]!.release === null
        ? new Promise<void>((_, reject) => (failing = reject))
        : write(rows));
      const store = writeBehind(sqlite, { flushMs: 60_000, onError: () => {} });
      store.queueClient(rec(1));
      const first = store.flush();
      await vi.waitFor(() => expect(failing).not.toBeNull());
      // Newer state for the same client, flushed while the first write is still out.
      store.queueClient(rec(1, { release: 'ffffffffffffffff', lastSeen: 2 }));
      const second = store.flush();
      failing!(new Error('connection terminated'));
      await first;
      await second;
      await store.flush();
      expect(sqlite.db.prepare('SELECT release, last_seen FROM clients WHERE id = ?').get(rec(1).id)).toEqual({ release: 'ffffffffffffffff', last_seen: 2 });
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('against SQLite: 10k check-ins land in a few transactions and survive close and reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'updraft-wb-'));
    try {
      const sqlite = openSqliteStore(dir);
      const spy = vi.spyOn(sqlite, 'upsertClients');
      const store = writeBehind(sqlite, { flushMs: 60_000, maxRows: 4000 });
      for (let i = 0; i < 10_000; i++) await store.upsertClient(rec(i % 6000, { release: i < 6000 ? null : 'aaaaaaaaaaaaaaaa' }));
      await store.close();
      expect(spy.mock.calls.length).toBeLessThanOrEqual(3);
      const again = openSqliteStore(dir);
      const rows = await again.countClients();
      await again.close();
      expect(rows.reduce((n, r) => n + r.count, 0)).toBe(6000);
      // The later record of each of the first 4000 clients won.
      expect(rows.find((r) => r.release === 'aaaaaaaaaaaaaaaa')?.count).toBe(4000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
