import fc from 'fast-check';
import { applyDelta as fossilApply, createDelta } from 'fossil-delta';
import { describe, expect, it } from 'vitest';
import { applyDelta, DeltaError } from './apply-delta.js';

const enc = (s: string) => new TextEncoder().encode(s);

// A base and a target made from it by edits (so the delta copies as well as inserts), or unrelated.
const pair = fc.oneof(
  fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 200 }), fc.uint8Array({ maxLength: 64 })), { maxLength: 8 })).map(([base, edits]) => {
    let target = base;
    for (const [at, cut, insert] of edits) {
      const i = target.byteLength ? at % target.byteLength : 0;
      target = new Uint8Array([...target.subarray(0, i), ...insert, ...target.subarray(i + cut)]);
    }
    return [base, target] as const;
  }),
  fc.tuple(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 })),
);

describe('applyDelta (the worker\'s Fossil decoder)', () => {
  it('builds what fossil-delta builds from every delta createDelta makes', () => {
    fc.assert(fc.property(pair, ([base, target]) => {
      const delta = createDelta(base, target);
      const out = applyDelta(base, delta, target.byteLength);
      expect(out).toEqual(target);
      expect(out).toEqual(fossilApply(base, delta));
    }), { numRuns: 300 });
  });

  it('a delta cut short anywhere is a DeltaError', () => {
    fc.assert(fc.property(pair, fc.nat(), ([base, target], n) => {
      const delta = createDelta(base, target);
      const cut = delta.subarray(0, n % delta.byteLength);
      expect(() => applyDelta(base, cut, target.byteLength)).toThrow(DeltaError);
    }), { numRuns: 300 });
  });

  it('a changed byte anywhere: a DeltaError, or output of exactly the stated size (the caller checks its SHA-256)', () => {
    fc.assert(fc.property(pair, fc.nat(), fc.integer({ min: 1, max: 255 }), ([base, target], n, x) => {
      const delta = Uint8Array.from(createDelta(base, target));
      delta[n % delta.byteLength]! ^= x;
      let out: Uint8Array;
      try {
        out = applyDelta(base, delta, target.byteLength);
      } catch (e) {
        expect(e).toBeInstanceOf(DeltaError);
        return;
      }
      expect(out.byteLength).toBe(target.byteLength);
    }), { numRuns: 500 });
  });

  it('refuses before allocating when the header states another size than the part\'s', () => {
    // "~~~~~~" is 2^36 - 1: a hostile header must not make a 64 GiB buffer.
    expect(() => applyDelta(enc('abc'), enc('~~~~~~\n0;'), 3)).toThrow(/number out of range/);
    expect(() => applyDelta(enc('abc'), enc('Z\n'), 3)).toThrow(/builds 35 bytes, expected 3/);
    expect(() => applyDelta(enc('abc'), enc('12'), 3)).toThrow(DeltaError);
  });

  it('names what is wrong: copies past the base or the output, inserts past the delta, a bad checksum, an unknown operator', () => {
    const base = enc('hello world');
    const good = createDelta(base, enc('hello there world'));
    expect(new TextDecoder().decode(applyDelta(base, good, 17))).toBe('hello there world');
    expect(() => applyDelta(base, enc('5\n5@9,0;'), 5)).toThrow(/past the end of the base/);
    expect(() => applyDelta(base, enc('3\n5@0,0;'), 3)).toThrow(/exceeds the output size/);
    expect(() => applyDelta(base, enc('3\n9:abc'), 3)).toThrow(/exceeds the output size/);
    expect(() => applyDelta(base, enc('9\n9:abc'), 9)).toThrow(/past the end of the delta/);
    expect(() => applyDelta(base, enc('3\n3:abc0;'), 3)).toThrow(/bad checksum/);
    expect(() => applyDelta(base, enc('3\n3:ab'), 3)).toThrow(/past the end of the delta/);
    expect(() => applyDelta(base, enc('3\n3?abc'), 3)).toThrow(/unknown delta operator/);
    expect(() => applyDelta(base, enc('3\n3:abc'), 3)).toThrow(/unterminated/);
    expect(() => applyDelta(base, enc('5\n3:abc0;'), 5)).toThrow(/built 3 bytes/);
  });
});
