import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * Gzip for answers made of fragments that repeat (a compact update plan: the parts, their hashes
 * and the manifest patch, the same for every client on one `from → to`) around a little
 * per-client text (plan id, clock, token). Each repeating fragment is deflated once
 * (`deflateFragment`), at the best level; an answer is then those bytes spliced between stored
 * (uncompressed) deflate blocks of its own text, framed as gzip (RFC 1952, RFC 1951 §3.2.4). That
 * is ~1 µs where compressing the whole answer took 13-30 µs even at brotli's cheapest level, and
 * every check-in from a browser asks for compression.
 *
 * Splicing is sound because a fragment deflated on its own never refers back before its start,
 * and `Z_SYNC_FLUSH` ends it on a byte boundary without a final block. The gzip checksum of the
 * whole is carried across each fragment with its precomputed CRC (`extendCrc`), so an answer
 * checksums only its own text.
 */
export interface DeflatedFragment {
  /**
   * The pieces it stands for, in order: an answer's pieces match when they are these very strings
   * (compared by identity first, so per-client pieces are not hashed). Several pieces deflated as
   * one compress against each other without keeping their joined text.
   */
  texts: readonly string[];
  /** Raw deflate blocks, ending on a byte boundary, none final. */
  bytes: Uint8Array;
  /** The fragment's UTF-8 length. */
  size: number;
  /** CRC-32 of the fragment alone. */
  crc: number;
  /**
   * `c ↦ crc32(fragment, c) ^ crc32(fragment, 0)`, which is linear in `c` (a CRC is affine in its
   * start value), as four tables of 256 by byte of `c`.
   */
  shift: Uint32Array;
}

export function deflateFragment(texts: readonly string[]): DeflatedFragment {
  const raw = Buffer.from(texts.join(''));
  const crc = crc32(raw, 0);
  const basis = Array.from({ length: 32 }, (_, k) => (crc32(raw, (1 << k) >>> 0) ^ crc) >>> 0);
  const shift = new Uint32Array(1024);
  for (let j = 0; j < 4; j++) {
    for (let b = 0; b < 256; b++) {
      let v = 0;
      for (let i = 0; i < 8; i++) if ((b >> i) & 1) v ^= basis[8 * j + i]!;
      shift[256 * j + b] = v >>> 0;
    }
  }
  return { texts, bytes: deflateRawSync(raw, { level: 9, finishFlush: constants.Z_SYNC_FLUSH }), size: raw.byteLength, crc, shift };
}

/** `crc32(fragment, c)`, from the tables: four lookups instead of a pass over the fragment. */
export function extendCrc(f: DeflatedFragment, c: number): number {
  const t = f.shift;
  return (t[c & 255]! ^ t[256 + ((c >>> 8) & 255)]! ^ t[512 + ((c >>> 16) & 255)]! ^ t[768 + (c >>> 24)]! ^ f.crc) >>> 0;
}

// ID1 ID2, CM = deflate, no flags, no mtime, XFL 0, OS unknown.
const HEADER = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
const MAX_STORED = 0xffff;

/**
 * The gzip of `pieces.join('')`: each sequence of pieces that is one of `deflated` (the first that
 * matches, in order) as its deflated bytes, every run of other pieces as stored blocks.
 */
export function gzipPieces(pieces: readonly string[], deflated: readonly DeflatedFragment[]): Uint8Array {
  // Runs of literal text between deflated fragments, and the fragments.
  const segments: (StoredRun | DeflatedFragment)[] = [];
  let run = '';
  for (let i = 0; i < pieces.length; i++) {
    const fragment = matchAt(pieces, i, deflated);
    if (fragment === undefined) {
      run += pieces[i]!;
      continue;
    }
    if (run) segments.push(storedRun(run));
    run = '';
    segments.push(fragment);
    i += fragment.texts.length - 1;
  }
  if (run) segments.push(storedRun(run));

  let size = HEADER.length + 5 + 8;
  for (const s of segments) size += 'text' in s ? s.byteLength + 5 * Math.ceil(s.byteLength / MAX_STORED) : s.bytes.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.set(HEADER, 0);
  let at = HEADER.length;
  let crc = 0;
  let length = 0;
  for (const s of segments) {
    if (!('text' in s)) {
      out.set(s.bytes, at);
      at += s.bytes.byteLength;
      crc = extendCrc(s, crc);
      length += s.size;
      continue;
    }
    // Stored blocks of at most 65535 bytes each: BFINAL 0, BTYPE 00 (a zero byte, as we are on a
    // byte boundary), LEN and its complement, little-endian, then the bytes. ASCII text (nearly
    // always) is written as it is; other text is encoded first.
    const { text, byteLength } = s;
    const encoded = byteLength === text.length ? null : Buffer.from(text);
    for (let from = 0; from < byteLength; from += MAX_STORED) {
      const len = Math.min(MAX_STORED, byteLength - from);
      out[at] = 0;
      out.writeUInt16LE(len, at + 1);
      out.writeUInt16LE(~len & 0xffff, at + 3);
      at += 5;
      if (encoded === null) out.write(from === 0 && len === byteLength ? text : text.slice(from, from + len), at, len, 'latin1');
      else encoded.copy(out, at, from, from + len);
      crc = crc32(out.subarray(at, at + len), crc);
      at += len;
    }
    length += byteLength;
  }
  // The final block: stored, empty, BFINAL 1; then CRC-32 and length mod 2^32 of the whole.
  out[at++] = 1;
  out.writeUInt16LE(0, at);
  out.writeUInt16LE(0xffff, at + 2);
  at += 4;
  out.writeUInt32LE(crc >>> 0, at);
  out.writeUInt32LE(length % 2 ** 32, at + 4);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A run of an answer's own text (never empty), to go as stored blocks, with its UTF-8 length. */
interface StoredRun {
  text: string;
  byteLength: number;
}

const storedRun = (text: string): StoredRun => ({ text, byteLength: Buffer.byteLength(text) });

/** The first of `deflated` whose pieces are `pieces` from `i` on. */
function matchAt(pieces: readonly string[], i: number, deflated: readonly DeflatedFragment[]): DeflatedFragment | undefined {
  outer: for (const f of deflated) {
    const texts = f.texts;
    for (let k = 0; k < texts.length; k++) if (pieces[i + k] !== texts[k]) continue outer;
    return f;
  }
  return undefined;
}
