import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const HOUR = 3_600_000;

/** An update server on a fresh store, its clock in the test's hands, counting client writes. */
function setup(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-record-' });
  let now = 1_700_000_000_000;
  const writes = vi.spyOn(store, 'upsertClient');
  const make = () => createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: 't', now: () => now, clientCheckIns: false, ...o });
  let app = make();
  const checkIn = async (body: object) => {
    const res = await app.request(`http://localhost/${PATHS.checkIn}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { recorded?: string; error?: { code: string } } };
  };
  return {
    checkIn, writes, store,
    advance: (ms: number) => void (now += ms),
    restart: () => void (app = make()),
  };
}

const state = (o: object = {}) => ({ client: 'client-abc-123', app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, quota: 1e9, usage: 1000 }, ...o });

describe('the client record is written once per state and period', () => {
  it('skips the write for a check-in that sends back the acknowledgement of its unchanged state', async () => {
    const s = setup();
    const first = await s.checkIn(state());
    expect(first.status).toBe(200);
    expect(first.json.recorded).toMatch(/^[0-9a-z]{1,16}$/);
    expect(s.writes).toHaveBeenCalledTimes(1);
    // Same state, token sent back: no write, same token. Storage figures move every time and do not count.
    const again = await s.checkIn(state({ recorded: first.json.recorded, caps: { sync: true, periodicSync: false, quota: 1e9, usage: 2000 } }));
    expect(again.json.recorded).toBe(first.json.recorded);
    expect(s.writes).toHaveBeenCalledTimes(1);
    expect(await s.store.countClients('demo')).toEqual([{ channel: 'stable', release: null, count: 1 }]);
  });

  it('writes again on any change of state, a wrong or missing token, a new period, or a restarted server', async () => {
    const s = setup({ clientRecordMs: 6 * HOUR });
    const { json: { recorded } } = await s.checkIn(state());
    const cases: [string, object][] = [
      ['another channel', state({ channel: 'beta', recorded })],
      ['staged', state({ staged: '0123456789abcdef', recorded })],
      ['periodic sync granted', state({ caps: { sync: true, periodicSync: true }, recorded })],
      ['no token', state()],
      ['a token of another state', state({ recorded: 'zzzz' })],
      ['the token spelled with a leading zero', state({ recorded: `0${recorded!}`.slice(0, 16) })],
    ];
    for (const [name, body] of cases) {
      const before = s.writes.mock.calls.length;
      await s.checkIn(body);
      expect(s.writes.mock.calls.length, name).toBe(before + 1);
    }
    const writes = s.writes.mock.calls.length;
    s.advance(6 * HOUR);
    const nextPeriod = await s.checkIn(state({ recorded }));
    expect(nextPeriod.json.recorded).not.toBe(recorded);
    expect(s.writes).toHaveBeenCalledTimes(writes + 1);
    s.restart();
    const restarted = await s.checkIn(state({ recorded: nextPeriod.json.recorded }));
    expect(restarted.json.recorded).not.toBe(nextPeriod.json.recorded);
    expect(s.writes).toHaveBeenCalledTimes(writes + 2);
    // The newest record is the one stored.
    expect(await s.store.countClients('demo')).toEqual([{ channel: 'stable', release: null, count: 1 }]);
  });

  it('clientRecordMs 0: every check-in is written and answers carry no token', async () => {
    const s = setup({ clientRecordMs: 0 });
    const a = await s.checkIn(state());
    const b = await s.checkIn(state({ recorded: 'abc' }));
    expect([a.json.recorded, b.json.recorded]).toEqual([undefined, undefined]);
    expect(s.writes).toHaveBeenCalledTimes(2);
  });

  it('a malformed token is a bad body', async () => {
    const s = setup();
    for (const recorded of ['', 'UPPER', 'x'.repeat(17), 5]) {
      const res = await s.checkIn(state({ recorded }));
      expect(res.status, String(recorded)).toBe(400);
      expect(res.json.error?.code).toBe('invalid_body');
    }
    expect(s.writes).not.toHaveBeenCalled();
  });
});
