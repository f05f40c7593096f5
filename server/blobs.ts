import { Hono } from 'hono';
import { ReleaseId, UpdraftError, parse } from '../protocol/index.js';
import { IMMUTABLE, blobResponse, fileResponse, fileSize } from './blob-response.js';
import type { ResolvedOptions } from './options.js';

/** Public, immutable part and manifest downloads. */
export function blobRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.get('/v1/blobs/:sha256', async (c) => {
    const raw = c.req.param('sha256');
    if (!/^[0-9a-f]{64}$/.test(raw)) throw new UpdraftError('invalid_hash', `not a lowercase hex sha256: ${raw.slice(0, 80)}`);
    return blobResponse(c, o.blobs, raw, { contentType: 'application/octet-stream', cacheControl: IMMUTABLE });
  });
  // A delta between two parts: immutable like them, named by the pair. Only the ones computed at
  // publish exist; an unknown pair is a 404 (the SW then fetches the whole part).
  app.get('/v1/deltas/:from/:to', async (c) => {
    const from = c.req.param('from');
    const to = c.req.param('to');
    if (!/^[0-9a-f]{64}$/.test(from) || !/^[0-9a-f]{64}$/.test(to)) throw new UpdraftError('invalid_hash', 'a delta is named by two lowercase hex sha256s');
    if (!o.deltas) throw new UpdraftError('not_found', 'this server offers no deltas');
    const path = o.deltas.store.pathFor(from, to);
    const size = await fileSize(path);
    if (size === null) throw new UpdraftError('not_found', `no delta ${from.slice(0, 12)}… → ${to.slice(0, 12)}…`);
    return fileResponse(c, path, size, `${from}-${to}`, { contentType: 'application/octet-stream', cacheControl: IMMUTABLE });
  });
  app.get('/v1/releases/:id', async (c) => {
    const id = parse(ReleaseId, c.req.param('id'), 'release id');
    const release = await o.store.getRelease(id);
    if (!release) throw new UpdraftError('unknown_release', `no release ${id}`);
    // Immutable too: a release id is derived from its content.
    return c.json(release.manifest, 200, { 'Cache-Control': IMMUTABLE });
  });
  return app;
}
