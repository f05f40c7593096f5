/**
 * Applies a Fossil delta (https://fossil-scm.org/home/doc/tip/www/delta_format.wiki), the format
 * the server makes with `fossil-delta`'s `createDelta`. The worker has its own decoder because
 * `fossil-delta`'s `applyDelta` builds its output one byte at a time in a JavaScript array: a
 * quarter to half a second for an 8 MiB part on the machine of BENCHMARKS.md, more on a phone,
 * during which the worker's only thread answers no page request. Here the output is one buffer of
 * the size the header states, filled by `set` from the base and the delta: ~25× as fast
 * (`npm run bench`, bench/delta-apply.ts), and 2.5 KB minified where fossil-delta's was 3.7 KB.
 *
 * Every command is bounds-checked before it copies, so a hostile or torn delta fails with a
 * `DeltaError` and never reads past the base or writes past the stated size; the caller still
 * verifies the result's SHA-256.
 */
export class DeltaError extends Error {
  override name = 'DeltaError';
}

// Fossil's base-64 digits: 0-9 A-Z _ a-z ~, by character code; -1 ends a number.
const DIGIT = new Int8Array(128).fill(-1);
'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~'.split('').forEach((c, i) => (DIGIT[c.charCodeAt(0)] = i));

const [NEWLINE, AT, COMMA, COLON, SEMICOLON] = ['\n', '@', ',', ':', ';'].map((c) => c.charCodeAt(0));

/** `base` with `delta` applied, which must build exactly `size` bytes. */
export function applyDelta(base: Uint8Array, delta: Uint8Array, size: number): Uint8Array {
  const r = new Reader(delta);
  const limit = r.int();
  if (r.byte() !== NEWLINE) throw new DeltaError("size not terminated by '\\n'");
  if (limit !== size) throw new DeltaError(`it builds ${limit} bytes, expected ${size}`);
  const out = new Uint8Array(limit);
  let at = 0;
  while (r.more()) {
    const count = r.int();
    const op = r.byte();
    if (op === AT) {
      const offset = r.int();
      if (r.more() && r.byte() !== COMMA) throw new DeltaError("copy not terminated by ','");
      if (count > limit - at) throw new DeltaError('copy exceeds the output size');
      if (offset + count > base.byteLength) throw new DeltaError('copy extends past the end of the base');
      out.set(base.subarray(offset, offset + count), at);
      at += count;
    } else if (op === COLON) {
      if (count > limit - at) throw new DeltaError('insert exceeds the output size');
      if (count > delta.byteLength - r.pos) throw new DeltaError('insert extends past the end of the delta');
      out.set(delta.subarray(r.pos, r.pos + count), at);
      r.pos += count;
      at += count;
    } else if (op === SEMICOLON) {
      if (at !== limit) throw new DeltaError(`built ${at} bytes, the header states ${limit}`);
      if (count !== checksum(out)) throw new DeltaError('bad checksum');
      return out;
    } else {
      throw new DeltaError('unknown delta operator');
    }
  }
  throw new DeltaError('unterminated delta');
}

class Reader {
  pos = 0;
  constructor(private readonly a: Uint8Array) {}

  more(): boolean {
    return this.pos < this.a.byteLength;
  }

  byte(): number {
    if (this.pos >= this.a.byteLength) throw new DeltaError('unexpected end of delta');
    return this.a[this.pos++]!;
  }

  /** A base-64 unsigned integer (no digits is 0, as in Fossil); one beyond 2^32 is an error. */
  int(): number {
    let v = 0;
    while (this.pos < this.a.byteLength) {
      const c = this.a[this.pos]!;
      const d = c < 128 ? DIGIT[c]! : -1;
      if (d < 0) break;
      v = v * 64 + d;
      if (v > 0xffffffff) throw new DeltaError('number out of range');
      this.pos++;
    }
    return v;
  }
}

/** Fossil's 32-bit checksum: the bytes summed as big-endian 32-bit words, a short tail left-aligned. */
function checksum(a: Uint8Array): number {
  let sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0, z = 0, n = a.byteLength;
  while (n >= 4) {
    sum0 = (sum0 + a[z]!) | 0;
    sum1 = (sum1 + a[z + 1]!) | 0;
    sum2 = (sum2 + a[z + 2]!) | 0;
    sum3 = (sum3 + a[z + 3]!) | 0;
    z += 4;
    n -= 4;
  }
  sum3 = (((((sum3 + (sum2 << 8)) | 0) + (sum1 << 16)) | 0) + (sum0 << 24)) | 0;
  if (n === 3) sum3 = (sum3 + (a[z + 2]! << 8)) | 0;
  if (n >= 2) sum3 = (sum3 + (a[z + 1]! << 16)) | 0;
  if (n >= 1) sum3 = (sum3 + (a[z]! << 24)) | 0;
  return sum3 >>> 0;
}
