import { expect, test } from 'vitest';
import { BYPASSED_READY, bypassedError, bypassedHello, judgeControl, type Control, type ControlFacts } from './control.js';
import { UpdraftError } from '../protocol/errors.js';

const scope = 'https://app.example/';
const base: ControlFacts = { controlled: false, href: `${scope}deep/route`, scope, active: 'activated', installing: false, waiting: false };

test.each<[string, Partial<ControlFacts>, Control]>([
  ['a controlled page', { controlled: true }, 'controlled'],
  ['a controlled page, another worker installing', { controlled: true, installing: true }, 'controlled'],
  ['a first visit: the worker installs', { active: null, installing: true }, 'coming'],
  ['a first visit: the worker waits', { active: null, waiting: true }, 'coming'],
  ['the worker is activating (its claim is to come)', { active: 'activating' }, 'coming'],
  ['a hard reload while a new worker installs (its activation claims the page)', { installing: true }, 'coming'],
  ['a hard reload while a new worker waits', { waiting: true }, 'coming'],
  ['no worker at all (one that went redundant)', { active: null }, 'coming'],
  ['a hard reload: active, nothing to come, not controlled', {}, 'bypassed'],
  ['outside the scope (base /app/ opened at /app)', { href: 'https://app.example/app', scope: 'https://app.example/app/' }, 'outside-scope'],
  ['outside the scope, even with an active worker and nothing to come', { href: 'https://app.example/app?x', scope: 'https://app.example/app/', active: 'activated' }, 'outside-scope'],
])('%s', (_, facts, expected) => {
  expect(judgeControl({ ...base, ...facts })).toBe(expected);
});

test('a page loaded past its worker runs no release: hello names none, ready() confirms none', () => {
  const hello = { release: 'r1', version: '1.0.0', active: 'r1', staged: 'r2', pending: { release: 'r2', version: '2.0.0', policy: 'prompt' as const }, nextCheckInAt: 5 };
  expect(bypassedHello(hello)).toEqual({ ...hello, release: null, version: null });
  expect(BYPASSED_READY).toEqual({ release: null, result: 'network' });
  const error = bypassedError();
  expect(error).toBeInstanceOf(UpdraftError);
  expect(error.code).toBe('uncontrolled');
  expect(error.message).toMatch(/hard reload.*next ordinary navigation is controlled/);
});
