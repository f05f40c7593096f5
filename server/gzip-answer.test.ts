import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { deflateFragment, extendCrc, gzipPieces } from './gzip-answer.js';

describe('gzipPieces', () => {
  it('is a gzip of the joined pieces, whichever of them are deflated, whatever their text', () => {
    const piece = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 50 }), fc.constantFrom('{"sha256":"' + 'ab'.repeat(32) + '"}', '€', ''));
    fc.assert(
      fc.property(fc.array(fc.tuple(piece, fc.boolean()), { maxLength: 12 }), (list) => {
        const pieces = list.map(([p]) => p);
        // Some pieces deflated alone, and one pair of neighbours deflated as one.
        const deflated = [...new Set(list.filter(([p, d]) => d && p).map(([p]) => p))].map((p) => deflateFragment([p]));
        if (pieces.length >= 3) deflated.unshift(deflateFragment([pieces[1]!, pieces[2]!]));
        const json = pieces.join('');
        expect(gunzipSync(gzipPieces(pieces, deflated)).toString()).toBe(json);
      }),
      { numRuns: 500 },
    );
  });

  it('splits a run of text longer than a stored block can hold, and compresses what repeats', () => {
    const long = 'x'.repeat(70_000) + 'é'.repeat(40_000);
    const fragment = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ path: `assets/chunk-${i}.js`, type: 'text/javascript' })));
    const pieces = ['{"a":"', long, '","b":', fragment, '}'];
    const json = pieces.join('');
    const packed = gzipPieces(pieces, [deflateFragment([fragment])]);
    expect(gunzipSync(packed).toString()).toBe(json);
    expect(packed.byteLength).toBeLessThan(Buffer.byteLength(json) - fragment.length / 2);
  });

  it('carries a CRC across a fragment as a pass over it would', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ maxLength: 50 }), (fragment, before) => {
        const f = deflateFragment([fragment]);
        expect(extendCrc(f, crc32(before))).toBe(crc32(fragment, crc32(before)));
      }),
      { numRuns: 300 },
    );
  });
});
