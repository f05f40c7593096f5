import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hash53, hash53Parts, planIdFor } from './rollout-bucket.js';

describe('hash53Parts', () => {
  it('is hash53 of the parts joined by a newline, without joining them', () => {
    for (const parts of [['a'], ['ab', 'c'], ['a', 'bc'], ['', 'x', ''], ['client-abc-123', 'stable', '0123456789abcdef']]) {
      expect(hash53Parts(parts)).toBe(hash53(parts.join('\n')));
    }
    expect(hash53Parts(['ab', 'c'])).not.toBe(hash53Parts(['a', 'bc']));
  });
});

describe('planIdFor', () => {
  it('is the two seeded hashes of client, target and time, each as 14 zero-padded hex digits', () => {
    const spelled = (client: string, to: string, at: number) => {
      const text = `${client}\n${to}\n${at}`;
      return hash53(text).toString(16).padStart(14, '0') + hash53(text, 0x9e3779b9).toString(16).padStart(14, '0');
    };
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 0, max: 2 ** 45 }), (client, to, at) => {
        expect(planIdFor(client, to, at)).toBe(spelled(client, to, at));
      }),
      { numRuns: 2000 },
    );
    expect(planIdFor('client-1234', '0123456789abcdef', 1_700_000_000_000)).toMatch(/^[0-9a-f]{28}$/);
  });
});
