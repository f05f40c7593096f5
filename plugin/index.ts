import type { Plugin } from 'vite';
import { buildPlugin } from './build-plugin.js';
import { devPlugin } from './dev-plugin.js';
import type { UpdraftOptions } from './options.js';

export type { UpdraftOptions, ResolvedOptions } from './options.js';
export { resolveOptions } from './options.js';

/**
 * Updraft's Vite plugin: at build time it writes `updraft-release.json` (the release manifest)
 * and a release-independent `sw.js` beside the build; in dev it serves a self-unregistering `sw.js`.
 */
export function updraft(options: UpdraftOptions = {}): Plugin[] {
  return [buildPlugin(options), devPlugin(options)];
}

export default updraft;
