import type { Context } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.js';
import { errorResponse } from './errors.js';
import { etagFor, noneMatch } from './etag.js';
import { chooseEncoding, encodedPath, encodedSizes, type Encoding } from './precompress.js';
import { parseRange } from '../protocol/index.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface BlobResponseOptions {
  contentType: string;
  cacheControl: string;
  /** Extra headers, e.g. `X-Content-Type-Options`. */
  headers?: Record<string, string>;
}

/**
 * Answers GET/HEAD for one blob: strong ETag (the hash names the bytes exactly), 304 on
 * If-None-Match, single-range 206 for resuming large parts, and a streamed body.
 */
export async function blobResponse(c: Context, blobs: BlobStore, sha256: string, opts: BlobResponseOptions): Promise<Response> {
  const path = blobs.pathFor(sha256);
  const size = await fileSize(path);
  if (size === null) throw new UpdraftError('not_found', `no blob ${sha256}`);
  return fileResponse(c, path, size, sha256, opts);
}

/** Size of a file, or null when absent. */
export async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Answers GET/HEAD for immutable bytes at `path` named by `tag`. A whole-body request gets the
 * precompressed copy the client accepts (`Content-Encoding`, `Vary: Accept-Encoding`, an ETag per
 * coding since the bytes differ); a Range request always gets identity bytes, so offsets mean the
 * same thing whatever was cached before. The hash a client verifies is of the decoded bytes.
 */
export async function fileResponse(c: Context, path: string, size: number, tag: string, opts: BlobResponseOptions): Promise<Response> {
  const rangeHeader = c.req.header('Range');
  const encodings = await encodedSizes(path);
  const available = Object.keys(encodings) as Encoding[];
  const encoding = rangeHeader ? null : chooseEncoding(c.req.header('Accept-Encoding'), available);
  const etag = etagFor(tag, encoding);
  const headers = new Headers({
    'Cache-Control': opts.cacheControl,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Content-Type': opts.contentType,
    ...opts.headers,
  });
  if (available.length > 0) headers.set('Vary', 'Accept-Encoding');
  if (encoding) headers.set('Content-Encoding', encoding);

  if (noneMatch(c.req.header('If-None-Match'), etag)) {
    return new Response(null, { status: 304, headers });
  }

  if (encoding) {
    const length = encodings[encoding]!;
    headers.set('Content-Length', String(length));
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
    return new Response(readStream(encodedPath(path, encoding)), { status: 200, headers });
  }

  let range: { start: number; end: number } | undefined;
  const ifRange = c.req.header('If-Range');
  // If-Range with another validator means "the bytes I have are stale": send the whole blob.
  if (rangeHeader && (!ifRange || ifRange.trim() === etag)) {
    const parsed = parseRange(rangeHeader, size);
    if (parsed === 'unsatisfiable') {
      const res = errorResponse(c, new UpdraftError('range_not_satisfiable', `cannot serve ${rangeHeader} of ${size} bytes`));
      res.headers.set('Content-Range', `bytes */${size}`);
      // Not the bytes' validator or their year of caching: this answer is an error, not the blob,
      // and a cache keeping it under the blob's strong ETag would revalidate the JSON as the part.
      for (const [k, v] of headers) if (k !== 'content-type' && k !== 'cache-control' && k !== 'etag') res.headers.set(k, v);
      res.headers.set('Cache-Control', 'no-store');
      return res;
    }
    range = parsed;
    headers.set('Content-Range', `bytes ${parsed.start}-${parsed.end}/${size}`);
  }

  const length = range ? range.end - range.start + 1 : size;
  headers.set('Content-Length', String(length));
  const status = range ? 206 : 200;
  // HEAD is dispatched to GET handlers; do not open a file stream nobody will read.
  if (c.req.method === 'HEAD' || length === 0) return new Response(null, { status, headers });
  return new Response(readStream(path, range), { status, headers });
}

/** A web stream of a file's bytes, `end` inclusive (as in a Range header). */
function readStream(path: string, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path, range)) as unknown as ReadableStream<Uint8Array>;
}
