/** Fault matrix, unreachable: the server gone for a long time. The app works offline; check-ins back off; nothing piles up. */
import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';

/** `BACKOFF_CAP_MS` in sw/scheduler.ts: the longest wait between automatic check-ins after failures. */
const BACKOFF_CAP_MS = 5 * 60_000;
const LOG_LINES = 50;

function idbCounts(page: import('@playwright/test').Page) {
  return page.evaluate(
    () =>
      new Promise<Record<string, number>>((resolve, reject) => {
        const open = indexedDB.open('updraft');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const names = [...db.objectStoreNames];
          const tx = db.transaction(names);
          const out: Record<string, number> = {};
          for (const n of names) tx.objectStore(n).count().onsuccess = (e) => (out[n] = (e.target as IDBRequest<number>).result);
          tx.oncomplete = () => {
            db.close();
            resolve(out);
          };
        };
      }),
  );
}

test('server unreachable for long: the app keeps working offline, check-ins back off within a bound, nothing grows in IndexedDB or the log', async ({ page, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const v1 = await visitV1(page, updraft, h);
    const before = await idbCounts(page);
    await h.stopAll();

    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await page.reload();
      expect(res?.fromServiceWorker()).toBe(true);
      await expect(page.locator('#version')).toHaveText('1.0.0');
      // The page insists (check-now bypasses the backoff): every attempt fails and the next automatic one moves out.
      expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'transport' });
      const s = await updraft.state();
      waits.push(s.nextCheckInAt! - Date.now());
    }
    await page.locator('#load-about').click();
    await expect(page.locator('#lazy')).toHaveAttribute('data-version', '1.0.0');

    // Bounded backoff with jitter: never below the floor, never past the cap, however many failures.
    for (const w of waits) {
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    }
    // Wake-ups during the backoff do not check in.
    const s = await updraft.state();
    const attempts = (log: string[]) => log.filter((l) => l.includes('check-in:')).length;
    await updraft.sync();
    await updraft.sync();
    const after = await updraft.state();
    expect(attempts(after.log) - attempts(s.log)).toBe(0);
    expect(after.log.length).toBeLessThanOrEqual(LOG_LINES);
    expect(after.active).toBe(v1.id);

    // Nothing piles up: no reports queued for failed check-ins, no plan, no new releases; pins only
    // for windows (12 reloads of one tab; the closed ones go at the next collection).
    const counts = await idbCounts(page);
    expect(counts.outbox).toBe(before.outbox);
    expect(counts.releases).toBe(before.releases);
    expect(counts.plan).toBe(0);
    expect(counts.meta).toBeLessThanOrEqual(before.meta! + 3);
    expect(counts.pins).toBeLessThanOrEqual(before.pins! + 12);

    // The server comes back: the next check-in goes through.
    await h.startOrigin();
    expect(await updraft.checkNow()).toEqual({ result: 'current' });
  } finally {
    await h.close();
  }
});
