/** Reports to the server go through the `outbox`: enqueued in IndexedDB, sent in batches, retried with backoff, never failing a plan. */
import { joinUrl, PATHS, type ErrorCode, type Plan, type Report, type ReportBatch } from '../protocol/index.js';
import type { SwContext } from './context.js';
import { describeError } from './debug.js';
import { backoff } from './scheduler.js';
import { cancelBody } from './read-capped.js';
import { timedRequest } from './timed-fetch.js';

const BATCH = 100;

export function makeReport(ctx: SwContext, plan: Plan, event: Report['event'], code?: ErrorCode, message?: string): Report {
  const report: Report = { client: ctx.clientId, app: ctx.config.app, planId: plan.planId, release: plan.to, event, at: ctx.adapter.now() };
  if (code) report.code = code;
  if (message) report.message = message.slice(0, 1000);
  return report;
}

/** Flushes in flight, per worker context. */
const flushing = new WeakMap<SwContext, Promise<unknown>>();

/**
 * Sends what the outbox holds unless a previous failure asked to wait. Returns the next retry time,
 * if any. One flush at a time: two running together (a wake-up and the runner) would both read the
 * same entries before either deletes them and send every report twice.
 */
export function flushOutbox(ctx: SwContext, force = false): Promise<number | null> {
  const run = (flushing.get(ctx) ?? Promise.resolve()).then(() => flushOnce(ctx, force));
  flushing.set(ctx, run.catch(() => undefined));
  return run;
}

async function flushOnce(ctx: SwContext, force: boolean): Promise<number | null> {
  const { adapter, store, log } = ctx;
  const retryAt = (await store.getMeta('outboxRetryAt')) ?? 0;
  if (!force && adapter.now() < retryAt) return retryAt;
  for (;;) {
    const entries = await store.outbox(BATCH);
    if (entries.length === 0) return null;
    const body: ReportBatch = { reports: entries.map((e) => e.report) };
    let status = 0;
    try {
      // Only the status counts: the body is let go, so the connection is free.
      status = await timedRequest(ctx, joinUrl(ctx.urls.server, PATHS.reports), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }, async (res) => {
        cancelBody(res);
        return res.status;
      });
    } catch (e) {
      log.warn(`reports: ${describeError(e)}`);
    }
    // 4xx other than 429 will never succeed: drop the batch rather than retry it forever.
    if ((status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429)) {
      if (status >= 400) log.warn(`reports: server refused a batch (${status}), dropped`);
      await store.deleteOutbox(entries.map((e) => e.id));
      await store.setMeta('outboxFailures', 0);
      continue;
    }
    const failures = ((await store.getMeta('outboxFailures')) ?? 0) + 1;
    const next = adapter.now() + backoff(failures, adapter.random());
    await store.setMeta('outboxFailures', failures);
    await store.setMeta('outboxRetryAt', next);
    return next;
  }
}
