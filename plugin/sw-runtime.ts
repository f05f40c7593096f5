import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The SW runtime shipped beside this plugin, which `updraft/sw` resolves to inside the SW bundle:
 * `dist/sw/index.js` when the plugin runs from `dist/plugin/`, `sw/index.ts` when it runs from
 * source (tests, the repo's demo). Aliasing it, rather than letting `updraft/sw` resolve through
 * node_modules, keeps the plugin and the runtime it was built with in step.
 */
export function resolveSwRuntime(): string {
  for (const candidate of ['../sw/index.js', '../sw/index.ts']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`[updraft] the service worker runtime was not found beside the plugin (${fileURLToPath(new URL('../sw/', import.meta.url))})`);
}
