import { expect, test } from 'vitest';
import { resolveRegisterOptions } from './options.js';

test('defaults', () => {
  expect(resolveRegisterOptions()).toEqual({ swUrl: '/sw.js', scope: undefined, onActivatedImmediate: 'reload' });
});

test('explicit values and a bad policy', () => {
  expect(resolveRegisterOptions({ swUrl: '/app/sw.js', scope: '/app/', onActivatedImmediate: 'none' })).toEqual({ swUrl: '/app/sw.js', scope: '/app/', onActivatedImmediate: 'none' });
  expect(() => resolveRegisterOptions({ onActivatedImmediate: 'later' as 'none' })).toThrow(/onActivatedImmediate/);
});
