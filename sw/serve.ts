/**
 * Answers a request with an asset's bytes from the parts cache. A part the pinned release needs but
 * the cache lost is fetched by hash from the server (`v1/blobs/<sha>`), verified and stored.
 */
import { joinUrl, parseRange, PATHS, sha256Hex, type Asset } from '../protocol/index.js';
import { partKey } from './adapter.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { partHeaders, partResponse } from './fetch-part.js';
import { readCapped } from './read-capped.js';
import { timedRequest } from './timed-fetch.js';

/** How long a page's request waits for a part evicted from the cache to be refetched by hash. */
export const REFETCH_TIMEOUT_MS = 20_000;
/** The longest a page waits for a refetched part in all, however it trickles in. */
export const REFETCH_TOTAL_MS = 60_000;

/**
 * The response, or null when the bytes cannot be had (the caller goes to the network). `range`
 * is the request's `Range` header, if any.
 */
export async function serveAsset(ctx: SwContext, asset: Asset, range: string | null = null): Promise<Response | null> {
  const key = partKey(ctx.urls.scope, asset.sha256);
  let part = await ctx.parts.match(key);
  if (!part) part = await refetchPart(ctx, asset);
  if (!part) return null;
  const headers = partHeaders(asset.sha256, asset.type);
  if (range !== null) return rangeResponse(await part.blob(), headers, range);
  // The cached response itself when it was stored with this asset's type (fetch-part.ts
  // `partResponse`): no blob read and no new Response, the way Workbox answers. A page's last
  // subresource came 1.13-1.16x later than under Workbox with the wrap below, 0.96-0.99x without.
  if (part.headers.get('content-type') === headers['content-type'] && part.headers.get('x-updraft-sha256') === headers['x-updraft-sha256']) return part;
  // Otherwise a Blob, not `part.body`: Chromium hands over a cached response's blob without reading it, and
  // the browser reads a blob-backed answer itself, while a ReadableStream body is pumped chunk by
  // chunk through this worker's thread, which the page's other requests keep busy.
  const blob = await part.blob();
  const wrapped = { ...headers, 'content-length': String(blob.size) };
  // A part stored by a worker before text types carried their charset (`servedType`) has this
  // asset's type without it: stored again as it is answered now, it is answered directly from the
  // next load on, instead of wrapped on every request for good. Not for a part shared with an asset
  // of another type (the same bytes as `.css` and `.js`): whichever is stored, the other is wrapped.
  if (part.headers.get('content-type') === asset.type && asset.type !== headers['content-type']) {
    ctx.parts.put(key, new Response(blob, { headers: wrapped })).catch((e) => ctx.log.warn(`store ${asset.sha256}: ${describeError(e)}`));
  }
  return new Response(blob, { status: 200, headers: wrapped });
}

/** Fetches a part by hash from the server, verifies size and SHA-256, stores it; undefined when it cannot be had. */
export async function refetchPart(ctx: SwContext, asset: Asset): Promise<Response | undefined> {
  const key = partKey(ctx.urls.scope, asset.sha256);
  const url = joinUrl(ctx.urls.server, PATHS.blob(asset.sha256));
  try {
    // `no-store`, as in fetch-part.ts: blobs are cached immutable, so a corrupt copy in the HTTP
    // cache would be replayed on every later refetch, long after the server serves the right bytes.
    // A page is waiting on this answer: a stalled origin must not hold it for minutes.
    // The body under the same watchdog: a part that starts and then stalls would hold the page as long.
    const bytes = await timedRequest(ctx, url, { cache: 'no-store' }, async (res, progress) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return readCapped(res, asset.size, { onChunk: progress });
    }, REFETCH_TIMEOUT_MS, REFETCH_TOTAL_MS);
    if (bytes.byteLength !== asset.size || (await sha256Hex(bytes)) !== asset.sha256) throw new Error('content mismatch');
    await ctx.parts.put(key, partResponse(bytes, asset.sha256, asset.type)).catch((e) => ctx.log.warn(`store ${asset.sha256}: ${describeError(e)}`));
    ctx.log.warn(`part ${asset.path} was missing, refetched`);
    return partResponse(bytes, asset.sha256, asset.type);
  } catch (e) {
    ctx.log.warn(`part ${asset.path} missing and ${url} failed: ${describeError(e)}`);
    return undefined;
  }
}

/**
 * A `Range` request (a `<video>` or `<audio>` asks `bytes=0-`, then seeks): 206 with that slice, or
 * 416, as the server answers it. A 200 with the whole file plays in Chromium but not in Safari, and
 * a seek far into a long file would wait for all of it. One range only, like the server.
 */
function rangeResponse(blob: Blob, headers: Record<string, string>, header: string): Response {
  const size = blob.size;
  const r = parseRange(header, size);
  if (r === 'unsatisfiable') return new Response(null, { status: 416, headers: { 'content-range': `bytes */${size}` } });
  // Content-Length as the server sends it: a Response built on a Blob gets none by itself, and a
  // page (or a media element sizing its buffer) reading the header found nothing.
  return new Response(blob.slice(r.start, r.end + 1), {
    status: 206,
    headers: { ...headers, 'accept-ranges': 'bytes', 'content-range': `bytes ${r.start}-${r.end}/${size}`, 'content-length': String(r.end - r.start + 1) },
  });
}
