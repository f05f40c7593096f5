import type { SwConfig } from '../protocol/index.js';

export const DEFAULT_CONFIG = {
  server: '/',
  manifest: 'updraft-release.json',
  concurrency: 3,
  bootTimeoutMs: 30_000,
} as const satisfies Partial<SwConfig>;

/** Merges the build-time config and overrides over the defaults, once. */
export function resolveConfig(...layers: (Partial<SwConfig> | undefined)[]): SwConfig {
  const merged: Partial<SwConfig> = { ...DEFAULT_CONFIG };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  }
  if (!merged.app || !merged.channel) throw new Error('updraft: SwConfig needs `app` and `channel` (set by the Vite plugin)');
  const concurrency = Math.max(1, Math.floor(merged.concurrency ?? DEFAULT_CONFIG.concurrency));
  const boot = Number(merged.bootTimeoutMs);
  // A config baked before the field existed, or a nonsense value, gets the default; 0 turns the check off.
  const bootTimeoutMs = Number.isFinite(boot) && boot >= 0 ? Math.floor(boot) : DEFAULT_CONFIG.bootTimeoutMs;
  return { ...(merged as SwConfig), concurrency, bootTimeoutMs };
}

/** Absolute URLs derived from the config and the registration scope. */
export interface Urls {
  scope: string;
  server: string;
  manifest: string;
  script: string;
}

export function resolveUrls(config: SwConfig, scope: string, script: string): Urls {
  const server = new URL(config.server, scope).href;
  return {
    scope,
    server: server.endsWith('/') ? server : server + '/',
    manifest: new URL(config.manifest, scope).href,
    script: new URL(script, scope).href.split(/[?#]/)[0] ?? script,
  };
}
