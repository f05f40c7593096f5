import { Hono } from 'hono';
import { PATHS, ReportBatch, parse } from '../protocol/index.js';
import { autoPause } from './auto-pause.js';
import { readJson } from './errors.js';
import type { ResolvedOptions } from './options.js';

export function reportRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.post(`/${PATHS.reports}`, async (c) => {
    const batch = parse(ReportBatch, await readJson(c), 'report batch');
    const now = o.now();
    await o.store.insertReports(batch.reports, now);
    if (o.autoPause) {
      const paused = await autoPause(o.store, batch.reports, o.autoPause, now);
      // The paused channels' cached answers would keep offering the target until they age out.
      if (paused.length > 0) o.checkInCache.invalidate();
    }
    return c.json({ accepted: batch.reports.length }, 202);
  });
  return app;
}
