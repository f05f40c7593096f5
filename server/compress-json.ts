import type { MiddlewareHandler } from 'hono';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { chooseEncoding } from './precompress.js';

/**
 * Compresses a JSON answer of at least `minBytes` (an update plan: the target manifest and its
 * tasks, mostly hex hashes and URLs that repeat) with brotli or gzip by `Accept-Encoding`. Small
 * answers (`current`, errors) go as they are: compressing them costs more CPU than it saves bytes,
 * and check-in throughput is mostly those. Brotli at quality 5: a few KB take well under a
 * millisecond, within a few percent of quality 11 at this size.
 */
export function compressJson({ minBytes = 1024 }: { minBytes?: number } = {}): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const res = c.res;
    if (!res.ok || res.headers.has('Content-Encoding') || !res.headers.get('Content-Type')?.startsWith('application/json')) return;
    const encoding = chooseEncoding(c.req.header('Accept-Encoding'), ['br', 'gzip']);
    if (!encoding) return;
    const body = new Uint8Array(await res.clone().arrayBuffer());
    if (body.byteLength < minBytes) return;
    const packed = encoding === 'br'
      ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } })
      : gzipSync(body, { level: 6 });
    const headers = new Headers(res.headers);
    headers.set('Content-Encoding', encoding);
    headers.set('Content-Length', String(packed.byteLength));
    headers.append('Vary', 'Accept-Encoding');
    c.res = undefined as unknown as Response; // Hono merges headers into a replaced response otherwise
    c.res = new Response(packed, { status: res.status, headers });
  };
}
