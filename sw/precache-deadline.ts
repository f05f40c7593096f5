/**
 * A workbox-precaching plugin that gives the first install's requests the part fetches' deadline
 * (`PART_IDLE_TIMEOUT_MS` for the headers and for each next chunk of the body) and checks their
 * bytes before Workbox caches them. Without it a host that accepts a precache request and never
 * answers holds the `install` event until the browser ends it (Chromium: about 5 minutes), and
 * the first visit never gets offline support; with it the install fails, and the browser tries
 * again at the next navigation (`register()` runs on every page load).
 *
 * The entries carry no `integrity` for this reason: with integrity metadata Chromium hands the
 * response over only once the whole body has arrived and been checked (Fetch, "main fetch"), so a
 * deadline could only bound the whole download and would cut off a large asset on a slow link
 * that keeps delivering. The bytes are hashed here instead, before they are cached: a corrupt
 * copy never lands in the precache, whose entries Workbox skips on the next attempt.
 */
import { sha256Hex } from '../protocol/index.js';
import { readCapped } from './read-capped.js';
import { PART_IDLE_TIMEOUT_MS, watchdog, type Timers, type Watchdog } from './timed-fetch.js';

/** What the manifest says an asset is: the precache checks the bytes against it. */
export interface PrecacheExpectation {
  sha256: string;
  size: number;
}

/** The workbox plugin callbacks used here (structurally a `WorkboxPlugin`); `state` is per request. */
export interface PrecacheDeadlinePlugin {
  requestWillFetch(p: { request: Request; state?: Record<string, unknown> }): Promise<Request>;
  fetchDidSucceed(p: { request: Request; response: Response; state?: Record<string, unknown> }): Promise<Response>;
  fetchDidFail(p: { state?: Record<string, unknown> }): Promise<void>;
}

/** `expected` by absolute URL (without Workbox's revision parameter). */
export function precacheDeadline(timers: Timers, expected: ReadonlyMap<string, PrecacheExpectation>, ms = PART_IDLE_TIMEOUT_MS): PrecacheDeadlinePlugin {
  const dogOf = (state: Record<string, unknown> | undefined) => state?.['dog'] as Watchdog | undefined;
  return {
    requestWillFetch: async ({ request, state }) => {
      const dog = watchdog(timers, request.url, ms);
      if (state) state['dog'] = dog;
      return new Request(request, { signal: dog.signal });
    },
    fetchDidSucceed: async ({ request, response, state }) => {
      const dog = dogOf(state);
      const want = expected.get(request.url.split('#')[0]!);
      try {
        // An error status is Workbox's to refuse (`bad-precaching-response`).
        if (!response.ok || !want) return response;
        dog?.kick();
        const read = readCapped(response, want.size, { ...(dog ? { onChunk: dog.kick, signal: dog.signal } : {}) });
        const bytes = await (dog ? dog.guard(read) : read);
        if (bytes.byteLength !== want.size || (await sha256Hex(bytes)) !== want.sha256) {
          throw new Error(`precache ${request.url}: the bytes do not match the manifest's sha256 and size`);
        }
        // A fresh response of exactly the checked bytes (no content-encoding: they are decoded).
        return new Response(bytes, { status: response.status, statusText: response.statusText, headers: { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' } });
      } finally {
        dog?.done();
      }
    },
    fetchDidFail: async ({ state }) => {
      dogOf(state)?.done();
    },
  };
}
