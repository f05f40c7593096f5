import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { answerText, deflatedFragment, splitAnswer, type Answer, type SplitText } from './answer-json.js';
import { gzipPieces } from './gzip-answer.js';
import { chooseEncoding } from './precompress.js';

/** The headers of an answer left as it is (shared: never changed). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/** An answer's bytes: text, bytes, or a client's text and the bytes its template shares (`splitAnswer`). */
export type AnswerBody = string | Uint8Array<ArrayBuffer> | SplitText;

/** The text of a split answer joined with its shared bytes, for a writer that takes one body. */
export const joinBody = (body: AnswerBody): string | Uint8Array<ArrayBuffer> =>
  typeof body === 'string' || body instanceof Uint8Array ? body : (Buffer.concat([Buffer.from(body.own), body.shared]) as Uint8Array<ArrayBuffer>);

/** An update's headers when it goes uncompressed though another client's may not (shared: never changed). */
const UNCOMPRESSED_PLAN_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json', vary: 'Accept-Encoding' });

/**
 * A JSON answer of at least `minBytes` (an update plan: manifest patch, tasks, hashes and URLs that
 * repeat) compressed by `Accept-Encoding`; smaller answers (`current`, errors) as they are.
 *
 * A compact update plan goes as gzip when the client takes it (browsers do): its repeating fragments
 * were deflated once per template and are spliced around the client's own text (gzip-answer.ts),
 * ~1 µs an answer. Not compressed, it is the client's own text and the template's cached bytes
 * (`splitAnswer`), which the Node lane writes as they are. Otherwise brotli or gzip of the whole text, at cheap settings on purpose:
 * brotli quality 1 takes ~13 µs for a 4 KB plan against ~41 µs at quality 5, for ~15 % more bytes.
 * And it works on the string, in the route: a middleware that cloned and re-read the Response took
 * @hono/node-server off its fast path, and check-ins fell from 18k to 3.8k a second (BENCHMARKS.md).
 */
export function compressAnswer(
  answer: Answer,
  acceptEncoding: string | undefined,
  minBytes = 1024,
): { body: AnswerBody; headers: Readonly<Record<string, string>> } {
  const codings = codingsFor(acceptEncoding);
  if (typeof answer !== 'string' && answer.splice && codings.gzip && lengthOf(answer.pieces) >= minBytes) {
    const packed = gzipPieces(answer.pieces, [deflatedFragment(answer.template, answer.splice)]);
    return { body: packed as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/json', vary: 'Accept-Encoding', 'content-encoding': 'gzip', 'content-length': String(packed.byteLength) } };
  }
  // An update the client takes as it is: its own text, then its template's shared bytes.
  if (typeof answer !== 'string' && !codings.best && lengthOf(answer.pieces) >= minBytes) {
    const split = splitAnswer(answer);
    if (split) return { body: split, headers: UNCOMPRESSED_PLAN_HEADERS };
  }
  const json = answerText(answer);
  if (json.length < minBytes) return { body: json, headers: JSON_HEADERS };
  // Whether or not this answer is compressed, another client's may be: caches must key on it.
  const headers: Record<string, string> = { 'content-type': 'application/json', vary: 'Accept-Encoding' };
  const encoding = codings.best;
  if (!encoding) return { body: json, headers };
  const packed = encoding === 'br'
    ? brotliCompressSync(json, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: json.length } })
    : gzipSync(json, { level: 1 });
  headers['content-encoding'] = encoding;
  headers['content-length'] = String(packed.byteLength);
  return { body: new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength) as Uint8Array<ArrayBuffer>, headers };
}

function lengthOf(pieces: readonly string[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

interface Codings { gzip: boolean; best: 'br' | 'gzip' | null }
/**
 * What an `Accept-Encoding` allows, for the last one seen: a fleet's browsers send one or two
 * spellings, and parsing the header each time was a fifth of a compressed plan's cost.
 */
function codingsFor(acceptEncoding: string | undefined): Codings {
  if (acceptEncoding === lastCodings.header) return lastCodings.codings;
  const codings = { gzip: chooseEncoding(acceptEncoding, ['gzip']) !== null, best: chooseEncoding(acceptEncoding, ['br', 'gzip']) };
  lastCodings = { header: acceptEncoding, codings };
  return codings;
}
let lastCodings: { header: string | undefined; codings: Codings } = { header: undefined, codings: { gzip: false, best: null } };
