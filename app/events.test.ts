import { describe, expect, test, vi } from 'vitest';
import type { UpdraftEvent } from '../protocol/messages.js';
import { createEmitter, eventFromMessage } from './events.js';

const ready: UpdraftEvent = { name: 'update-ready', release: '0123456789abcdef', version: '2.0.0', policy: 'prompt' };
const failed: UpdraftEvent = { name: 'failed', release: null, code: 'transport', message: 'offline' };

describe('createEmitter', () => {
  test('delivers an event only to handlers of its name, in subscription order', () => {
    const emitter = createEmitter();
    const seen: string[] = [];
    emitter.on('update-ready', (e) => seen.push(`a:${e.version}`));
    emitter.on('update-ready', (e) => seen.push(`b:${e.policy}`));
    emitter.on('failed', (e) => seen.push(`failed:${e.code}`));
    emitter.emit(ready);
    expect(seen).toEqual(['a:2.0.0', 'b:prompt']);
    emitter.emit(failed);
    expect(seen).toEqual(['a:2.0.0', 'b:prompt', 'failed:transport']);
  });

  test('unsubscribe stops delivery, also from inside a handler', () => {
    const emitter = createEmitter();
    const once = vi.fn();
    const off = emitter.on('update-ready', () => {
      once();
      off();
    });
    const other = vi.fn();
    emitter.on('update-ready', other);
    emitter.emit(ready);
    emitter.emit(ready);
    expect(once).toHaveBeenCalledTimes(1);
    expect(other).toHaveBeenCalledTimes(2);
  });

  test('a throwing handler is reported and the others still run', () => {
    const report = vi.fn();
    const emitter = createEmitter(report);
    const boom = new Error('boom');
    emitter.on('failed', () => {
      throw boom;
    });
    const after = vi.fn();
    emitter.on('failed', after);
    emitter.emit(failed);
    expect(report).toHaveBeenCalledWith(boom);
    expect(after).toHaveBeenCalledWith(failed);
  });

  test('subscribing the same handler twice delivers once', () => {
    const emitter = createEmitter();
    const handler = vi.fn();
    emitter.on('failed', handler);
    emitter.on('failed', handler);
    emitter.emit(failed);
    expect(handler).toHaveBeenCalledTimes(1);
  });
});

test.each([
  [{ type: 'updraft:event', event: ready }, ready],
  [{ type: 'updraft:event', event: { name: 'wake-at', at: 5 } }, { name: 'wake-at', at: 5 }],
  [{ type: 'updraft:event', event: null }, null],
  [{ type: 'updraft:event', event: { at: 5 } }, null],
  [{ type: 'workbox:event', event: ready }, null],
  [{ type: 'WINDOW_READY', meta: 'workbox-window' }, null],
  ['updraft:event', null],
  [null, null],
])('eventFromMessage(%j)', (data, expected) => {
  expect(eventFromMessage(data)).toEqual(expected);
});
