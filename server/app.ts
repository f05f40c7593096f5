import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { PATHS, UpdraftError } from '../protocol/index.js';
import { adminRoutes } from './admin.js';
import { blobRoutes } from './blobs.js';
import { checkInRoutes } from './check-in.js';
import { errorResponse, onError, onNotFound } from './errors.js';
import { resolveOptions, type UpdateServerOptions } from './options.js';
import { reportRoutes } from './reports.js';
import { staticRoutes } from './static.js';

/** Headers a cross-origin SW must be able to read (Retry-After drives its backoff; Content-Range its resumption). */
const EXPOSED = ['Retry-After', 'Content-Length', 'Content-Range', 'ETag'];

/**
 * The update server as a Hono app, mountable anywhere: `app.route('/updraft', createUpdateServer(o))`.
 * Every route path is relative, and fetch sources are derived from the request URL (or `publicUrl`).
 */
export function createUpdateServer(options: UpdateServerOptions): Hono {
  const o = resolveOptions(options);
  const app = new Hono();
  app.onError(onError);
  app.notFound(onNotFound);

  const publicCors = cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'], allowHeaders: ['Content-Type'], exposeHeaders: EXPOSED, maxAge: 86400 });
  const limit = bodyLimit({
    maxSize: o.bodyLimit,
    onError: (c) => errorResponse(c, new UpdraftError('body_too_large', `request bodies are limited to ${o.bodyLimit} bytes`)),
  });
  app.use(`/${PATHS.checkIn}`, publicCors, limit);
  app.use(`/${PATHS.reports}`, publicCors, limit);
  app.use('/v1/blobs/*', publicCors);
  app.use('/v1/releases/*', publicCors);

  app.route('/', checkInRoutes(o));
  app.route('/', reportRoutes(o));
  app.route('/', blobRoutes(o));
  app.route('/', adminRoutes(o));
  app.route('/', staticRoutes(o));
  // Sub-app notFound handlers are dropped when mounted, so unknown routes get a JSON 404 from a route.
  app.all('/*', onNotFound);
  return app;
}

export type { UpdateServerOptions };
