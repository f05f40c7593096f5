/**
 * The worker entry: the only file that reads `self`. Builds the real `Adapter` and forwards every
 * event to the `Runtime`, inside `waitUntil` so the browser keeps the worker alive for the work.
 */
import { PrecacheController } from 'workbox-precaching';
import type { SwConfig } from '../protocol/index.js';
import { PARTS_CACHE, PRECACHE_CACHE, type Adapter, type PartsCache, type PrecacheEntry } from './adapter.js';
import { resolveConfig } from './config.js';
import { openIdbStore } from './idb-store.js';
import { precacheDeadline } from './precache-deadline.js';
import { Runtime } from './runtime.js';

declare const self: ServiceWorkerGlobalScope & { __UPDRAFT_CONFIG__?: SwConfig };
/** Replaced by the Vite plugin at build time (`define`); absent when bundled by hand. */
declare const __UPDRAFT_CONFIG__: SwConfig | undefined;

/** Starts the Updraft runtime in this service worker. Call once, at the top level of the worker script. */
export function startUpdraft(overrides?: Partial<SwConfig>): Runtime {
  const baked = typeof __UPDRAFT_CONFIG__ !== 'undefined' ? __UPDRAFT_CONFIG__ : self.__UPDRAFT_CONFIG__;
  const config = resolveConfig(baked, overrides);
  const runtime = new Runtime(browserAdapter(), config, self.location.href);
  listen(runtime);
  // Collect garbage on every start: windows closed while the worker slept left pins behind.
  void runtime.onStart();
  return runtime;
}

function listen(runtime: Runtime): void {
  self.addEventListener('install', (event) => {
    event.waitUntil(runtime.onInstall(event));
  });
  self.addEventListener('activate', (event) => {
    event.waitUntil(runtime.onActivate());
  });
  self.addEventListener('fetch', (event) => {
    const response = runtime.onFetch({ request: event.request, clientId: event.clientId, resultingClientId: event.resultingClientId });
    if (response) event.respondWith(response);
    // A navigation is the moment a user arrives: always see whether a check-in or task is due.
    // Subresource fetches come in bursts, so those wake-ups are throttled. Once the answer is
    // ready, not alongside it: the wake-up's store reads (check-in due, outbox, plan) otherwise
    // queue beside the navigation's own and delay the document (bench/cached-load.ts).
    const answered = response ? response.then(noop, noop) : Promise.resolve();
    event.waitUntil(answered.then(() => runtime.wake('fetch', event.request.mode !== 'navigate')));
  });
  self.addEventListener('message', (event) => {
    const type = (event.data as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !type.startsWith('updraft:')) return;
    const source = event.source as Client | null;
    event.waitUntil(
      (async () => {
        const reply = await runtime.onMessage(event.data, source?.id ?? null);
        event.ports[0]?.postMessage(reply);
        if (type !== 'updraft:wake') await runtime.wake('message', true);
        // `check-now` and `apply` kick the runner without awaiting it: keep the worker alive for it.
        await runtime.idle();
      })(),
    );
  });
  self.addEventListener('sync', (event) => {
    event.waitUntil(runtime.onSync(event.tag));
  });
  self.addEventListener('periodicsync', (event) => {
    event.waitUntil(runtime.onPeriodicSync(event.tag));
  });
}

const noop = () => undefined;

function browserAdapter(): Adapter {
  const registration = self.registration;
  return {
    scope: registration.scope,
    now: () => Date.now(),
    random: () => Math.random(),
    randomId: () => {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
    setTimeout: (fn, ms) => self.setTimeout(fn, ms),
    clearTimeout: (handle) => self.clearTimeout(handle as number),
    fetch: (input, init) => self.fetch(input, init),
    parts: async () => partsCache(await self.caches.open(PARTS_CACHE)),
    store: () => openIdbStore(),
    windows: async () => {
      const list = await self.clients.matchAll({ includeUncontrolled: true, type: 'window' });
      return list.map((c) => ({ id: c.id, url: c.url }));
    },
    clientIds: async () => (await self.clients.matchAll({ includeUncontrolled: true, type: 'all' })).map((c) => c.id),
    postMessage: async (id, message) => {
      (await self.clients.get(id))?.postMessage(message);
    },
    claim: () => self.clients.claim(),
    skipWaiting: () => self.skipWaiting(),
    hasSync: () => 'sync' in registration && registration.sync !== undefined,
    registerSync: async (tag) => {
      if (!registration.sync) return false;
      await registration.sync.register(tag);
      return true;
    },
    registerPeriodicSync: async (tag, minInterval) => {
      if (!registration.periodicSync) return false;
      try {
        // Chromium rejects `register` unless the permission is granted; ask first to avoid log noise.
        const status = await self.navigator.permissions?.query({ name: 'periodic-background-sync' as PermissionName });
        if (status && status.state !== 'granted') return false;
        await registration.periodicSync.register(tag, { minInterval });
        return true;
      } catch {
        return false;
      }
    },
    estimate: async () => (await self.navigator.storage?.estimate?.()) ?? {},
    precache: async (entries: PrecacheEntry[], event?: unknown) => {
      // Each request under the part fetches' deadline: a stalled host must not hold `install` for
      // minutes. No `integrity` in the entries: the plugin checks the bytes (see its comment).
      const expected = new Map(entries.map((e) => [e.url, { sha256: e.sha256, size: e.size }]));
      const timers = { setTimeout: (fn: () => void, ms: number) => self.setTimeout(fn, ms), clearTimeout: (h: unknown) => self.clearTimeout(h as number) };
      const controller = new PrecacheController({ cacheName: PRECACHE_CACHE, plugins: [precacheDeadline(timers, expected)] });
      if (entries.length > 0) {
        controller.addToCacheList(entries.map((e) => ({ url: e.url, revision: e.revision })));
        if (!event) throw new Error('precache needs the install event');
        await controller.install(event as ExtendableEvent);
      }
      return async (url) => controller.matchPrecache(url);
    },
    dropPrecache: async () => {
      await self.caches.delete(PRECACHE_CACHE);
    },
  };
}

function partsCache(cache: Cache): PartsCache {
  return {
    match: async (key) => (await cache.match(key)) ?? undefined,
    put: (key, response) => cache.put(key, response),
    delete: (key) => cache.delete(key),
    keys: async () => (await cache.keys()).map((r) => r.url),
  };
}
