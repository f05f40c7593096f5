/**
 * The first install's precache plugin, driven the way workbox-precaching's StrategyHandler calls
 * it (requestWillFetch, fetch, fetchDidSucceed or fetchDidFail, one `state` per request), on the
 * fake clock. The browser run is e2e/first-visit-stall.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../protocol/index.js';
import { precacheDeadline, type PrecacheDeadlinePlugin } from './precache-deadline.js';
import { FakeClock } from './testing.js';
import { PART_IDLE_TIMEOUT_MS } from './timed-fetch.js';

const URL_A = 'https://app.test/assets/about-1.js';
const BYTES = 'export const about = "1.0.0";';

async function setup() {
  const clock = new FakeClock();
  const expected = new Map([[URL_A, { sha256: await sha256Hex(BYTES), size: new TextEncoder().encode(BYTES).byteLength }]]);
  return { clock, plugin: precacheDeadline(clock, expected) };
}

/** As Workbox's `StrategyHandler.fetch`: the plugin's request goes to `fetch`, its answer through the plugin. */
async function handle(plugin: PrecacheDeadlinePlugin, fetch: (req: Request) => Promise<Response>): Promise<Response> {
  const state: Record<string, unknown> = {};
  const request = await plugin.requestWillFetch({ request: new Request(URL_A), state });
  try {
    const response = await fetch(request);
    return await plugin.fetchDidSucceed({ request: request.clone(), response, state });
  } catch (e) {
    await plugin.fetchDidFail({ state });
    throw e;
  }
}

/** A server that accepts the request and never answers: only the request's signal ends it. */
const neverAnswers = (req: Request) =>
  new Promise<Response>((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason as Error), { once: true }));

/** An answer whose body the test feeds chunk by chunk. */
function fedBody() {
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
  return { response: new Response(body, { headers: { 'content-type': 'text/javascript' } }), send: (s: string) => feed.enqueue(new TextEncoder().encode(s)), end: () => feed.close() };
}

const settle = (p: Promise<Response>) => p.then(async (r) => `ok ${await r.text()}`, (e: unknown) => `failed ${String(e)}`);
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('precache deadline', () => {
  it('a request that gets no answer is aborted at the part deadline, not when the browser ends the install', async () => {
    const { clock, plugin } = await setup();
    const outcome = settle(handle(plugin, neverAnswers));
    let settled = false;
    void outcome.then(() => (settled = true));
    await tick();
    clock.advance(PART_IDLE_TIMEOUT_MS - 1);
    await tick();
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await outcome).toMatch(/failed TimeoutError: no answer from https:\/\/app\.test\/assets\/about-1\.js within 30 s/);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('a body that stalls after its headers fails at the deadline; one that keeps delivering is not cut off', async () => {
    const { clock, plugin } = await setup();
    const stalled = fedBody();
    const outcome = settle(handle(plugin, async () => stalled.response));
    await tick();
    stalled.send(BYTES.slice(0, 5));
    await tick();
    clock.advance(PART_IDLE_TIMEOUT_MS);
    expect(await outcome).toMatch(/failed .*within 30 s/);

    const slow = fedBody();
    const slowOutcome = settle(handle(plugin, async () => slow.response));
    await tick();
    // A chunk every 20 s: a minute in all, but never 30 s without progress.
    for (const chunk of [BYTES.slice(0, 10), BYTES.slice(10, 20), BYTES.slice(20)]) {
      clock.advance(20_000);
      slow.send(chunk);
      await tick();
    }
    slow.end();
    expect(await slowOutcome).toBe(`ok ${BYTES}`);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('bytes that do not match the manifest are refused before Workbox could cache them; an error status is left to Workbox', async () => {
    const { clock, plugin } = await setup();
    const wrong = await settle(handle(plugin, async () => new Response(BYTES.replace('1.0.0', '6.6.6'))));
    expect(wrong).toMatch(/failed Error: precache .*do not match the manifest's sha256 and size/);
    const status = await handle(plugin, async () => new Response('gone', { status: 404 }));
    expect(status.status).toBe(404);
    expect(clock.pendingTimers()).toEqual([]);
  });
});
