/** Versioned wire paths, relative to the server's base URL. One table so no side spells them twice. */
export const PATHS = {
  checkIn: 'v1/check-in',
  reports: 'v1/reports',
  blob: (sha256: string) => `v1/blobs/${sha256}`,
  delta: (from: string, to: string) => `v1/deltas/${from}/${to}`,
  release: (id: string) => `v1/releases/${id}`,
  adminMissingBlobs: 'v1/admin/blobs/missing',
  adminBlob: (sha256: string) => `v1/admin/blobs/${sha256}`,
  adminReleases: 'v1/admin/releases',
  adminChannel: (name: string) => `v1/admin/channels/${encodeURIComponent(name)}`,
  adminStatus: 'v1/admin/status',
} as const;

/** File names the Vite plugin emits beside the build and the server serves at the app's root. */
export const MANIFEST_FILE = 'updraft-release.json';
export const SW_FILE = 'sw.js';

/** Joins a base URL ("https://x/updraft/" or "/") and a relative wire path. */
export function joinUrl(base: string, path: string): string {
  return base.endsWith('/') ? base + path : `${base}/${path}`;
}
