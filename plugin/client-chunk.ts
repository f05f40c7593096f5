/**
 * Puts the page client (`updraft/client`, its protocol modules and workbox-window) in a chunk of
 * its own, `updraft-client-<hash>.js`. Bundled into the app's entry chunk it changed hash with
 * every app change and was downloaded again with each update: 9 KB of 11 KB in the
 * `npm run bench:bytes` one-line change (BENCHMARKS.md). In its own chunk it keeps its hash until
 * Updraft itself changes.
 */
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Rolldown } from 'vite';

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
 * `output` with the client group added, or null to leave it alone: when the app chooses its own
 * chunks (Rolldown ignores `manualChunks` and `advancedChunks` once `codeSplitting` is set, so
 * adding ours would silently undo the app's) or none at all (`inlineDynamicImports`,
 * `codeSplitting: false`, which Vite also sets for iife and umd outputs).
 *
 * Applied per output in the `outputOptions` hook rather than merged into the user config: a
 * config merge appends to an `output` array (a second, unsplit build) and cannot see chunking
 * set per environment (`environments.client.build.rolldownOptions.output`).
 */
export function withClientChunk(output: Rolldown.OutputOptions): Rolldown.OutputOptions | null {
  if (output.codeSplitting !== undefined || output.manualChunks !== undefined || output.advancedChunks !== undefined || output.inlineDynamicImports) {
    return null;
  }
  return { ...output, codeSplitting: { groups: [{ name: 'updraft-client', test: isClientModule }] } };
}
