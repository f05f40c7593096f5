import * as v from 'valibot';
import { boundedArray } from './bounded-array.js';
import { CONTROL, label } from './label.js';

/** Lowercase hex SHA-256 of an asset's decoded bytes. */
export const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'));

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A path inside a release: relative, POSIX, no `..`, no empty segments, no backslashes.
 * The server serves it at `/<path>`; the SW maps request paths under its scope to it.
 */
export const AssetPath = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(1024),
  v.check(
    (p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
    'must be a relative path without "." or ".." segments',
  ),
  // The release id hashes `path\tsha256\n` lines as UTF-8: a tab or newline in a path could spell
  // other lines (two different asset lists, one id), and a lone surrogate encodes as U+FFFD like
  // the real one. Neither can be a request path either (server/static.ts refuses control characters).
  v.check((p) => !CONTROL.test(p) && !LONE_SURROGATE.test(p), 'must not hold control characters or unpaired surrogates'),
);

/**
 * An asset's `Content-Type`: a media type (`type/subtype`, parameters after a `;`), or empty for
 * one looked up from the path. The server and the worker send it as a header, and a header value
 * cannot hold CR, LF, NUL or characters past Latin-1: a release with one answered every page 500.
 */
const MediaType = v.pipe(
  v.string(),
  v.maxLength(200),
  v.regex(/^(?:[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:[ \t]*;[\x20-\x7e]*)?)?$/, 'must be a media type like "text/html; charset=utf-8" (printable ASCII), or empty'),
);

export const Asset = v.object({
  path: AssetPath,
  sha256: Sha256,
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  type: MediaType,
});
export type Asset = v.InferOutput<typeof Asset>;

export const ReleaseId = v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'));
export const Name = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -'));

export const ReleaseManifest = v.object({
  /** Derived from the asset list and `sw`: see `computeReleaseId`. */
  id: ReleaseId,
  app: Name,
  version: label(100),
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  /** The document served for navigations, e.g. `index.html`. Must be one of `assets`. */
  entry: AssetPath,
  assets: v.pipe(boundedArray(Asset, 100_000), v.minLength(1)),
  /** The service worker script; served by the server, never precached or staged by the SW itself. */
  sw: v.optional(Asset),
});
export type ReleaseManifest = v.InferOutput<typeof ReleaseManifest>;

const encoder = new TextEncoder();

export async function sha256Hex(data: BufferSource | string): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A release id is the first 16 hex digits of the SHA-256 of its sorted `path\tsha256\n` lines plus
 * the entry and the service worker's hash: two builds with the same bytes at the same paths and the
 * same `sw.js` are the same release. A build whose only change is its worker (the plugin's options,
 * `publicKeys` in a key rotation, a new Updraft) is a new release, so its worker ships.
 *
 * The worker's line (`/sw\t…`: no asset path starts with `/`) came in with protocol 0.6; ids made
 * before cover the app's files only (`sw` omitted gives that form). Both stay valid: see
 * `releaseIdForm`.
 */
export async function computeReleaseId(assets: readonly Pick<Asset, 'path' | 'sha256'>[], entry: string, sw?: Pick<Asset, 'sha256'>): Promise<string> {
  const lines = assets.map((a) => `${a.path}\t${a.sha256}\n`).sort();
  return (await sha256Hex(`entry\t${entry}\n${sw ? `/sw\t${sw.sha256}\n` : ''}${lines.join('')}`)).slice(0, 16);
}

/**
 * Which form a manifest's id has: `'sw'` when it covers `sw.js` (builds since protocol 0.6), `'files'`
 * when it covers the app's files only (builds before, and any manifest without `sw`), null when it
 * is neither. Workers before 0.6 accept only `'files'`: the server offers a `'sw'` release only to
 * a worker whose check-in says `caps.swIds`.
 */
export async function releaseIdForm(m: Pick<ReleaseManifest, 'id' | 'assets' | 'entry' | 'sw'>): Promise<ReleaseIdForm | null> {
  if (m.sw && (await computeReleaseId(m.assets, m.entry, m.sw)) === m.id) return 'sw';
  return (await computeReleaseId(m.assets, m.entry)) === m.id ? 'files' : null;
}
export type ReleaseIdForm = 'sw' | 'files';

/**
 * Checks what a schema cannot: entry present, paths unique, id matches content (in either form,
 * `releaseIdForm`, so releases published before 0.6 stay valid and can be rolled back to). Returns
 * a problem or null.
 */
export async function checkManifestConsistency(m: ReleaseManifest): Promise<string | null> {
  const paths = new Set<string>();
  for (const a of m.assets) {
    if (paths.has(a.path)) return `duplicate asset path ${a.path}`;
    paths.add(a.path);
  }
  if (!paths.has(m.entry)) return `entry ${m.entry} is not among the assets`;
  if ((await releaseIdForm(m)) !== null) return null;
  return `release id ${m.id} does not match its assets (expected ${await computeReleaseId(m.assets, m.entry, m.sw)})`;
}
