/**
 * Which asset a page URL opens: one rule for the server (`server/static.ts`) and the worker
 * (`sw/router.ts`), so a URL shows the same document whether the network or the worker answers it.
 */

/**
 * The asset path answering `path` (relative to the app's root, decoded, no query) in a release
 * whose entry document is `entry` and whose paths `has` knows; null when none does.
 * - The root is the entry document.
 * - A path the release holds is that asset.
 * - A directory, written `docs/` or `docs`, is its `index.html` when the release has one (a Vite
 *   multi-page build emits `docs/index.html`; Vite's dev server and static hosts serve it there).
 * - Any other path whose last segment has no extension is a client-side route: the entry document.
 * - A missing file (`report.pdf`, `page.html`) is missing.
 */
export function resolvePagePath(path: string, entry: string, has: (path: string) => boolean): string | null {
  if (path === '') return entry;
  if (has(path)) return path;
  if (hasExtension(path)) return null;
  const index = (path.endsWith('/') ? path : path + '/') + 'index.html';
  return has(index) ? index : entry;
}

/** Whether the last segment names a file (`a.js`, `report.pdf`), not a route or a directory. */
function hasExtension(path: string): boolean {
  return path.slice(path.lastIndexOf('/') + 1).includes('.');
}
