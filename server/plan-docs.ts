import { Hono, type Context } from 'hono';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { PLAN_DOC_PATH, UpdraftError } from '../protocol/index.js';
import { planDoc, type PlanDoc } from './answer-json.js';
import { IMMUTABLE } from './blob-response.js';
import { etagFor, noneMatch } from './etag.js';
import type { ResolvedOptions } from './options.js';
import { chooseEncoding, ENCODINGS } from './precompress.js';

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/**
 * `GET v1/plans/<app>/<channel>/<from>/<to>/<sha256>`: the plan document an answer by reference
 * names (protocol plan-ref.ts). The path says which template the document is of, so any server
 * process with the same releases and settings makes the same bytes from its own check-in cache:
 * no process has to have answered the check-in, and none stores documents. Served only for a `to`
 * the channel offers now (its release or previous one) and while the bytes still hash to the name;
 * otherwise `not_found`, and the worker checks in again.
 */
export function planDocRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.get('/v1/plans/*', async (c) => {
    const path = c.req.path.slice(c.req.path.indexOf('v1/plans/'));
    const m = PLAN_DOC_PATH.exec(path);
    if (!m) throw new UpdraftError('invalid_path', `not a plan document path: ${path.slice(0, 200)}`);
    const [, appName, channelName, fromSeg, to, sha256] = m as unknown as [string, string, string, string, string, string];
    const from = fromSeg === '-' ? null : fromSeg;
    const entry = await o.checkInCache.channel(appName, channelName);
    const ch = entry.channel;
    // Not cached anywhere: a server that has not seen a publish yet answers this for a moment.
    const gone = () => c.json(new UpdraftError('not_found', `plan document ${sha256.slice(0, 12)}… is not one this server offers now: check in again`).toBody(), 404, { 'Cache-Control': 'no-store' });
    if (!ch || ch.app !== appName || (to !== ch.release && to !== ch.previous)) return gone();
    // The same origin the check-in derived its sources from: this URL minus the document's path.
    const origin = o.publicUrl ?? c.req.url.slice(0, c.req.url.indexOf(path));
    const rendered = await o.checkInCache.template(entry, from, to, origin, o.cdn);
    const doc = rendered ? planDoc(rendered, channelName) : null;
    if (!doc || doc.sha256 !== sha256) return gone();
    return docResponse(c, doc);
  });
  return app;
}

/**
 * The document with immutable caching (its name is its hash), compressed once per coding on first
 * demand. Answered with `c.body`, which @hono/node-server writes directly: a `Response` of our own
 * would be read back through a web stream (a fifth of the throughput).
 */
async function docResponse(c: Context, doc: PlanDoc): Promise<Response> {
  const encoding = chooseEncoding(c.req.header('Accept-Encoding'), ENCODINGS);
  const etag = etagFor(doc.sha256, encoding);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': IMMUTABLE, ETag: etag, Vary: 'Accept-Encoding' };
  if (noneMatch(c.req.header('If-None-Match'), etag)) return c.body(null, 304, headers);
  let body: Buffer = doc.bytes;
  if (encoding) {
    // Once per document and coding, at full quality (every client moving `from → to` gets these
    // bytes), off the event loop: a first install's document holds a whole manifest.
    body = await (doc.encoded[encoding] ??= encoding === 'br'
      ? brotli(doc.bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: doc.bytes.byteLength } })
      : gz(doc.bytes, { level: 9 }));
    headers['Content-Encoding'] = encoding;
  }
  headers['Content-Length'] = String(body.byteLength);
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  return c.body(new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>, 200, headers);
}
