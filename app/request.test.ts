import { expect, test, vi } from 'vitest';
import { UpdraftError } from '../protocol/errors.js';
import { REPLY_TIMEOUT_MS, request, unwrapReply } from './request.js';

test('an ok reply unwraps to its value', async () => {
  const sent: unknown[] = [];
  const value = await request((m) => (sent.push(m), Promise.resolve({ ok: true, value: { result: 'current' } })), { type: 'updraft:check-now' });
  expect(value).toEqual({ result: 'current' });
  expect(sent).toEqual([{ type: 'updraft:check-now' }]);
});

test('a failed reply throws an UpdraftError with the SW code', async () => {
  const error = await request(() => Promise.resolve({ ok: false, code: 'not_found', message: 'nothing staged' }), { type: 'updraft:apply' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UpdraftError);
  expect(error).toMatchObject({ code: 'not_found', message: 'nothing staged' });
});

test.each([[undefined], [null], ['ok'], [{ value: 1 }]])('a reply that is not an SwReply (%j) throws code internal', (reply) => {
  expect(() => unwrapReply(reply, 'updraft:hello')).toThrow(expect.objectContaining({ code: 'internal' }));
});

test('an unknown error code from the SW becomes internal', () => {
  expect(() => unwrapReply({ ok: false, code: 'nope', message: 'x' }, 'updraft:hello')).toThrow(expect.objectContaining({ code: 'internal', message: 'x' }));
});

test('no reply within the timeout rejects with code transport, naming the request', async () => {
  vi.useFakeTimers();
  try {
    const pending = request(() => new Promise(() => {}), { type: 'updraft:check-now' }, 1000).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await pending;
    expect(error).toBeInstanceOf(UpdraftError);
    expect(error).toMatchObject({ code: 'transport', message: 'the service worker did not answer updraft:check-now within 1 s' });
  } finally {
    vi.useRealTimers();
  }
});

test('a reply in time clears the timer; a null timeout waits as long as it takes', async () => {
  vi.useFakeTimers();
  try {
    expect(await request(() => Promise.resolve({ ok: true, value: 1 }), { type: 'updraft:hello' }, 1000)).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    let answer!: (v: unknown) => void;
    const late = request((m) => new Promise((r) => (answer = r)), { type: 'updraft:apply' }, null);
    await vi.advanceTimersByTimeAsync(REPLY_TIMEOUT_MS * 10);
    answer({ ok: true, value: { release: 'r' } });
    expect(await late).toEqual({ release: 'r' });
  } finally {
    vi.useRealTimers();
  }
});
