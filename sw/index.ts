/**
 * `updraft/sw`: the service-worker runtime. The Vite plugin bundles
 * `import { startUpdraft } from 'updraft/sw'; startUpdraft();` into a classic `sw.js`.
 * Browser-safe imports only.
 */
export { startUpdraft } from './main.js';
export { Runtime, type FetchInput } from './runtime.js';
export type { Adapter, PartsCache, PrecacheEntry, PrecacheLookup, WindowClientInfo } from './adapter.js';
export type { SwStore, StoredPlan, TaskRecord, TaskState, Pointers, Pin, Meta, BootWatch, BadRelease } from './store.js';
export { resolveConfig, DEFAULT_CONFIG } from './config.js';
