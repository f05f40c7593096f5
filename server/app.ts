import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { PATHS } from '../protocol/index.js';
import { adminRoutes } from './admin.js';
import { blobRoutes } from './blobs.js';
import { planDocRoutes } from './plan-docs.js';
import { checkInRoutes } from './check-in.js';
import { DASHBOARD_PATH, dashboardRoutes } from './dashboard.js';
import type { DeltaQueue } from './delta-queue.js';
import { bodyDeadline, bodyMinRate } from './body-deadline.js';
import { onError, onNotFound } from './errors.js';
import { jsonBodyLimit } from './json-body-limit.js';
import { checkInLane, type Lane } from './check-in-lane.js';
import { checkInKey, clientKey } from './check-in-request.js';
import { ClientWindows, InFlightGate, clientRateLimit, inFlightLimit } from './load-shedding.js';
import { resolveOptions, type UpdateServerOptions } from './options.js';
import { corsHeaders, publicCors } from './public-cors.js';
import { reportRoutes } from './reports.js';
import { apiHeaders, securityHeaders } from './security-headers.js';
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
  app.use('*', securityHeaders('app', o.securityHeaders));
  app.use('/v1/*', securityHeaders('public'));
  app.use('/v1/admin/*', securityHeaders('admin'));

  // Blob and release routes answer with Response objects of their own, which `c.header()` would not reach.
  const corsForResponses = cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'], allowHeaders: ['Content-Type'], exposeHeaders: EXPOSED, maxAge: 86400 });
  // JSON routes answer through `c.json`/`c.body`, so the cheaper CORS applies.
  // Check-in, reports and plan documents: JSON answers whose only header a page or worker must read
  // is Retry-After, and only the refusals that carry it expose it (load-shedding.ts): on the rest
  // it would be bytes every check-in pays for nothing.
  const apiCors = { allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'], allowHeaders: ['Content-Type'], exposeHeaders: [], maxAge: 86400 };
  const anyOrigin = publicCors(apiCors);
  const limit = jsonBodyLimit(o.bodyLimit);
  // Shedding runs after CORS, so a cross-origin SW can read the 503/429's Retry-After.
  const inFlight = new InFlightGate({ max: o.maxInFlight, retryAfter: o.retryAfter });
  const shed = inFlightLimit(inFlight);
  const checkIns = o.clientCheckIns ? new ClientWindows(o.clientCheckIns) : null;
  const perClient = checkIns ? [clientRateLimit(checkIns, { key: async (c) => checkInKey(await c.req.text()), now: o.now })] : [];
  const perReporter = o.clientReports
    ? [clientRateLimit(new ClientWindows(o.clientReports), { key: reportClient, now: o.now })]
    : [];
  // Before anything reads the body (the per-client limits read it for the client id), and inside
  // `shed`: a body that does not come in time is answered, and its place given back, at once.
  const deadline = bodyDeadline(o.bodyTimeoutMs);
  app.use(`/${PATHS.checkIn}`, anyOrigin, shed, deadline, limit, ...perClient);
  app.use(`/${PATHS.reports}`, anyOrigin, deadline, limit, ...perReporter);
  // The sign-in form: a few hundred bytes, sent before any token is checked.
  app.use(`/${DASHBOARD_PATH}`, deadline);
  // Manifests and parts may be large: a minimum rate, not a total deadline.
  app.use('/v1/admin/*', bodyMinRate(o.bodyTimeoutMs, o.uploadMinRate));
  app.use('/v1/blobs/*', corsForResponses, shed);
  app.use('/v1/deltas/*', corsForResponses, shed);
  // Plan documents answer with `c.body`, so the cheaper CORS applies (28k/s against 10k with hono/cors).
  app.use('/v1/plans/*', anyOrigin, shed);
  app.use('/v1/releases/*', corsForResponses);

  app.route('/', checkInRoutes(o));
  app.route('/', reportRoutes(o));
  app.route('/', blobRoutes(o));
  app.route('/', planDocRoutes(o));
  app.route('/', dashboardRoutes(o)); // before adminRoutes, whose bearer guard covers v1/admin/*
  app.route('/', adminRoutes(o));
  app.route('/', staticRoutes(o));
  // Sub-app notFound handlers are dropped when mounted, so unknown routes get a JSON 404 from a route.
  app.all('/*', onNotFound);
  // The lane answers with what this chain's CORS and public-surface headers give a check-in.
  lanes.set(app, checkInLane(o, { inFlight, checkIns }, [...corsHeaders(apiCors), ...apiHeaders()]));
  if (o.deltas) {
    queues.set(app, o.deltas.queue);
    // What a stopped server (this one before a restart, or another sharing the blobs) left pending.
    void o.deltas.queue.resume();
  }
  return app;
}

/** A report batch's first `app/client` (a SW sends its own reports only), or null as `checkInKey` (check-in-request.ts). */
async function reportClient(c: Context): Promise<string | null> {
  try {
    const body = JSON.parse(await c.req.text()) as { reports?: { app?: unknown; client?: unknown }[] } | null;
    return clientKey(Array.isArray(body?.reports) ? body.reports[0] : undefined);
  } catch {
    return null;
  }
}

const lanes = new WeakMap<Hono, Lane>();

/**
 * The Node check-in lane of an app made by `createUpdateServer` (sharing its gates), for a server
 * that serves that app at its root; undefined for any other app.
 */
export function checkInLaneOf(app: Hono): Lane | undefined {
  return lanes.get(app);
}

const queues = new WeakMap<Hono, DeltaQueue>();

/**
 * The delta queue of an app made by `createUpdateServer`, undefined for any other app or with
 * `deltas: false`: `await deltaQueueOf(app)?.idle()` waits until the deltas of every publish so
 * far are stored (or given up), and `close()` stops it before the store is closed.
 */
export function deltaQueueOf(app: Hono): DeltaQueue | undefined {
  return queues.get(app);
}

export type { UpdateServerOptions };
