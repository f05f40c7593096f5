/**
 * What in the app's Vite setup meets the plugin badly: a file of the app at the plugin's output
 * paths (an error), and settings under which the release is not what the user expects (warnings).
 */
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { MANIFEST_FILE, SW_FILE } from '../protocol/index.js';

/** `https://cdn…/` or `//cdn…/`: another origin, which the service worker does not answer for. */
export function isFullUrl(base: string): boolean {
  return /^([a-z][a-z\d+.-]*:)?\/\//i.test(base);
}

/** What the plugin writes into outDir: an app file at either path would be overwritten without a word. */
export const OWN_FILES = [SW_FILE, MANIFEST_FILE] as const;

export function clash(what: string, name: string): string {
  const hint =
    name === SW_FILE
      ? 'the service worker: rename it, or make your worker code a custom `swEntry` that imports startUpdraft from updraft/sw'
      : 'the release manifest: rename it';
  return `[updraft] ${what} would be written to ${name} in outDir, which is where the plugin writes ${hint}`;
}

/** Not an error: the build is still a release; but the user should know what it will not do. */
export function crossOriginBase(base: string): string {
  return (
    `[updraft] base is a full URL (${base}): pages will load their scripts, styles and images from there, ` +
    `and the service worker answers requests to its own origin only, so those are not served from the ` +
    `installed release: the app will not work offline, and each release's files must be on that host ` +
    `before it is activated. A path base (/ or /app/) has the worker serve them.`
  );
}

/**
 * Entries of outDir from before this build, when Vite will not empty it (its rule: `emptyOutDir`,
 * or by default only an outDir inside the root). Our own two files are rewritten anyway.
 */
export function leftOver(root: string, outDir: string, emptyOutDir: boolean | null): string[] {
  const inside = !relative(root, outDir).startsWith('..') && !isAbsolute(relative(root, outDir));
  if ((emptyOutDir ?? inside) || !existsSync(outDir)) return [];
  return readdirSync(outDir).filter((name) => !(OWN_FILES as readonly string[]).includes(name));
}

export function staleFiles(outDir: string, names: string[]): string {
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, … (${names.length})` : '');
  return (
    `[updraft] ${outDir} is not emptied before the build and already holds ${shown}: whatever of it this ` +
    `build does not overwrite stays in the release, and every client downloads it. Set build.emptyOutDir: true.`
  );
}
