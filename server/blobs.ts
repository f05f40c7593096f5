import { Hono } from 'hono';
import { ReleaseId, UpdraftError, parse } from '../protocol/index.js';
import { IMMUTABLE, blobResponse } from './blob-response.js';
import type { ResolvedOptions } from './options.js';

/** Public, immutable part and manifest downloads. */
export function blobRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.get('/v1/blobs/:sha256', async (c) => {
    const raw = c.req.param('sha256');
    if (!/^[0-9a-f]{64}$/.test(raw)) throw new UpdraftError('invalid_hash', `not a lowercase hex sha256: ${raw.slice(0, 80)}`);
    return blobResponse(c, o.blobs, raw, { contentType: 'application/octet-stream', cacheControl: IMMUTABLE });
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
