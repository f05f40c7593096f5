import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { chooseEncoding } from './precompress.js';

/** The headers of an answer left as it is (shared: never changed). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/**
 * A JSON answer of at least `minBytes` (an update plan: manifest patch, tasks, hashes and URLs that
 * repeat) compressed by `Accept-Encoding`; smaller answers (`current`, errors) as they are.
 *
 * Cheap settings on purpose, because every check-in from a browser asks for it: brotli quality 1
 * takes ~13 µs for a 4 KB plan against ~41 µs at quality 5, for ~15 % more bytes (636 against 545).
 * And it works on the string, in the route: a middleware that cloned and re-read the Response took
 * @hono/node-server off its fast path, and check-ins fell from 18k to 3.8k a second (BENCHMARKS.md).
 */
export function compressAnswer(
  json: string,
  acceptEncoding: string | undefined,
  minBytes = 1024,
): { body: string | Uint8Array<ArrayBuffer>; headers: Readonly<Record<string, string>> } {
  if (json.length < minBytes) return { body: json, headers: JSON_HEADERS };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const encoding = chooseEncoding(acceptEncoding, ['br', 'gzip']);
  // Whether or not this answer is compressed, another client's may be: caches must key on it.
  headers.vary = 'Accept-Encoding';
  if (!encoding) return { body: json, headers };
  const packed = encoding === 'br'
    ? brotliCompressSync(json, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: json.length } })
    : gzipSync(json, { level: 1 });
  headers['content-encoding'] = encoding;
  headers['content-length'] = String(packed.byteLength);
  return { body: new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength) as Uint8Array<ArrayBuffer>, headers };
}
