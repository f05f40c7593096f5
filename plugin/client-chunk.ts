/**
 * Puts the page client (`updraft/client`, its protocol modules and workbox-window) in a chunk of
 * its own, `updraft-client-<hash>.js`. Bundled into the app's entry chunk it changed hash with
 * every app change and was downloaded again with each update: 9 KB of 11 KB in the
 * `npm run bench:bytes` one-line change (BENCHMARKS.md). In its own chunk it keeps its hash until
 * Updraft itself changes.
 */
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UserConfig } from 'vite';

/** `app/` and `protocol/` beside this plugin: the package's `dist/` when installed, the repo when run from source. */
const base = fileURLToPath(new URL('..', import.meta.url));
const CLIENT = join(base, 'app') + sep;
const DEMO = join(base, 'app', 'demo') + sep;
const PROTOCOL = join(base, 'protocol') + sep;
const WORKBOX_WINDOW = /[\\/]node_modules[\\/]workbox-window[\\/]/;

export function isClientModule(id: string): boolean {
  return (id.startsWith(CLIENT) && !id.startsWith(DEMO)) || id.startsWith(PROTOCOL) || WORKBOX_WINDOW.test(id);
}

/**
 * The config addition, or null when the app chooses its own chunks: Rolldown ignores
 * `manualChunks` and `advancedChunks` once `codeSplitting` is set, so adding ours would silently
 * undo the app's.
 */
export function clientChunkConfig(user: UserConfig): UserConfig | null {
  const build = user.build as (UserConfig['build'] & { rolldownOptions?: { output?: unknown } }) | undefined;
  for (const output of [build?.rolldownOptions?.output, build?.rollupOptions?.output].flat()) {
    if (!output || typeof output !== 'object') continue;
    const o = output as Record<string, unknown>;
    if (o.codeSplitting !== undefined || o.manualChunks !== undefined || o.advancedChunks !== undefined || o.inlineDynamicImports) return null;
  }
  return {
    build: {
      rolldownOptions: { output: { codeSplitting: { groups: [{ name: 'updraft-client', test: isClientModule }] } } },
    },
  } as UserConfig;
}
