import { Hono } from 'hono';
import { PATHS, ReportBatch, parse } from '../protocol/index.js';
import { readJson } from './errors.js';
import type { ResolvedOptions } from './options.js';

export function reportRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  app.post(`/${PATHS.reports}`, async (c) => {
    const batch = parse(ReportBatch, await readJson(c), 'report batch');
    await o.store.insertReports(batch.reports, o.now());
    return c.json({ accepted: batch.reports.length }, 202);
  });
  return app;
}
