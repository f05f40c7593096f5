import { Hono } from 'hono';
import { CheckInRequest, PATHS, parse } from '../protocol/index.js';
import { readJson } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { decide, type KnownRelease } from './planner.js';

/** Base URL of the server as the client sees it: the request URL minus `v1/check-in`, so mounting under a prefix just works. */
export function originFromRequest(url: string): string {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  const href = u.href;
  return href.endsWith(PATHS.checkIn) ? href.slice(0, -PATHS.checkIn.length) : new URL('/', u).href;
}

export function checkInRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.post(`/${PATHS.checkIn}`, async (c) => {
    const req = parse(CheckInRequest, await readJson(c), 'check-in');
    const now = o.now();
    const channel = await o.store.getChannel(req.app, req.channel);
    const releases = new Map<string, KnownRelease>();
    for (const id of new Set([channel?.release, channel?.previous, req.release])) {
      if (!id) continue;
      const r = await o.store.getRelease(id);
      if (r) releases.set(id, r);
    }
    await o.store.upsertClient({
      id: req.client, app: req.app, channel: req.channel, release: req.release, staged: req.staged ?? null, caps: req.caps, lastSeen: now,
    });
    const decision = decide({
      client: req,
      channel,
      releases,
      origin: o.publicUrl ?? originFromRequest(c.req.url),
      cdn: o.cdn,
      now,
      options: { checkInInterval: o.checkInInterval, spreadMs: o.spreadMs, planTtlMs: o.planTtlMs },
    });
    return c.json(decision);
  });
  return app;
}
