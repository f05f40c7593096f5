import type { Context } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import type { BlobStore } from './blob-store.js';
import { errorResponse } from './errors.js';
import { parseRange } from './range.js';

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
  const size = await blobs.size(sha256);
  if (size === null) throw new UpdraftError('not_found', `no blob ${sha256}`);
  const etag = `"${sha256}"`;
  const headers = new Headers({
    'Cache-Control': opts.cacheControl,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Content-Type': opts.contentType,
    ...opts.headers,
  });

  const inm = c.req.header('If-None-Match');
  if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }

  let range: { start: number; end: number } | undefined;
  const rangeHeader = c.req.header('Range');
  const ifRange = c.req.header('If-Range');
  // If-Range with another validator means "the bytes I have are stale": send the whole blob.
  if (rangeHeader && (!ifRange || ifRange.trim() === etag)) {
    const parsed = parseRange(rangeHeader, size);
    if (parsed === 'unsatisfiable') {
      const res = errorResponse(c, new UpdraftError('range_not_satisfiable', `cannot serve ${rangeHeader} of ${size} bytes`));
      res.headers.set('Content-Range', `bytes */${size}`);
      for (const [k, v] of headers) if (k !== 'content-type') res.headers.set(k, v);
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
  return new Response(blobs.read(sha256, range), { status, headers });
}
