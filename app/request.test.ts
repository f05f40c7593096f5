import { expect, test } from 'vitest';
import { UpdraftError } from '../protocol/errors.js';
import { request, unwrapReply } from './request.js';

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
