import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as v from 'valibot';
import { decodePublicKey, Name } from '../protocol/index.js';
import { label } from '../protocol/label.js';

export interface UpdraftOptions {
  /**
   * The app's name on the update server (1-64 of `A-Z a-z 0-9 . _ -`).
   * @default the project's package.json `name`, sanitized, else `"app"`
   */
  app?: string;
  /** The channel this build's service worker checks in on. @default "stable" */
  channel?: string;
  /**
   * Base URL of the update server, absolute or relative to the service worker's scope.
   * @default Vite's `base` when it is a path (`/app/`: the update server mounted, or proxied, where the app is), else `"/"`
   */
  server?: string;
  /** The release's human version, shown in events and the dashboard. @default the project's package.json `version`, else `"0.0.0"` */
  version?: string;
  /**
   * A custom service worker entry, relative to the Vite root, that imports `startUpdraft` from
   * `updraft/sw` and calls it. @default a generated entry that only calls `startUpdraft()`
   */
  swEntry?: string;
  /** Update tasks the service worker runs at once. @default 3 */
  concurrency?: number;
  /**
   * Milliseconds a newly activated release has, from the first page it serves, until a page it
   * served calls `ready()` (`updraft/client`); then the service worker goes back to the previous
   * release and reports `boot-failed`. `0` turns the check off. 1000 to 86400000, or 0.
   * @default 30000
   */
  bootTimeoutMs?: number;
  /**
   * Ed25519 public keys the service worker trusts to sign plans, as `updraft keys generate` prints
   * them (`ed25519:<base64url>`, the `.pub` file's contents). With any, the SW refuses every plan
   * not signed by one of them (`updraft serve --signing-key`). Two during a key rotation. A
   * string is one key. Changing keys changes `sw.js`, as any option does.
   * @default [] (plans are not signature-checked: set this in production)
   */
  publicKeys?: string | string[];
  /**
   * Put the page client (`updraft/client` with workbox-window) in a chunk of its own,
   * `updraft-client-<hash>.js`, so app changes do not re-download it. Skipped for an output where
   * the app sets its own `codeSplitting`, `advancedChunks`, `manualChunks` or `inlineDynamicImports`
   * (top level or per environment).
   * @default true
   */
  splitClient?: boolean;
}

export interface ResolvedOptions {
  app: string;
  channel: string;
  server: string;
  version: string;
  /** Absolute path, or null for the generated entry. */
  swEntry: string | null;
  concurrency: number;
  bootTimeoutMs: number;
  publicKeys: string[];
  splitClient: boolean;
}

const PublicKeyText = v.pipe(
  v.string(),
  v.trim(),
  v.check((k) => decodePublicKey(k) !== null, 'must be an Ed25519 public key as `updraft keys generate` prints it (ed25519:<43 base64url characters>)'),
);

const OptionsSchema = v.strictObject({
  app: v.optional(Name),
  channel: v.optional(Name),
  server: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, 'must not be empty'),
      // The worker fetches it: only http(s), once resolved against the scope (which is https or localhost).
      v.check(isHttpUrlOrPath, 'must be an http(s) URL or a path (relative to the service worker scope)'),
    ),
  ),
  // As the server takes it (protocol/label.ts): a build it would refuse fails here, not at publish.
  version: v.optional(v.pipe(label(100), v.minLength(1, 'must not be empty'))),
  swEntry: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
  concurrency: v.optional(v.pipe(v.number(), v.integer('must be an integer'), v.minValue(1), v.maxValue(64))),
  bootTimeoutMs: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be an integer'),
      // Under a second no real page boots; over a day the user has long given up on it.
      v.check((n) => n === 0 || (n >= 1000 && n <= 86_400_000), 'must be 0 (off) or 1000 to 86400000 ms'),
    ),
  ),
  publicKeys: v.optional(v.union([PublicKeyText, v.pipe(v.array(PublicKeyText), v.maxLength(8))])),
  splitClient: v.optional(v.boolean()),
});

function isHttpUrlOrPath(server: string): boolean {
  try {
    return /^https?:$/.test(new URL(server, 'https://scope.invalid/').protocol);
  } catch {
    return false;
  }
}

const KNOWN_KEYS = Object.keys(OptionsSchema.entries);

/**
 * Validates `options` and fills defaults from the project's package.json (nearest one at or above
 * `root`) and Vite's `base`.
 */
export function resolveOptions(options: unknown, root: string, base = '/'): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error('[updraft] options must be an object');
  }
  // valibot's strictObject names the key too, but not what was meant: say both.
  const unknown = Object.keys(options).filter((k) => !KNOWN_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new Error(`[updraft] unknown option ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${KNOWN_KEYS.join(', ')})`);
  }
  const result = v.safeParse(OptionsSchema, options);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? 'options'}: ${i.message}`);
    throw new Error(`[updraft] invalid options: ${problems.join('; ')}`);
  }
  const o = result.output;
  const swEntry = o.swEntry === undefined ? null : resolve(root, o.swEntry);
  // Checked here, in configResolved: otherwise the nested SW build fails only after the whole app
  // was bundled, and with Rolldown's message instead of ours.
  if (swEntry !== null) {
    const stat = statSync(swEntry, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw new Error(`[updraft] invalid options: swEntry: ${swEntry} ${stat ? 'is not a file' : 'does not exist'}`);
  }
  const pkg = o.app === undefined || o.version === undefined ? readPackageJson(root) : null;
  return {
    app: o.app ?? sanitizeAppName(pkg?.name),
    channel: o.channel ?? 'stable',
    // `/` for an app at the origin's root, so the same bytes of sw.js as before `base` counted.
    server: o.server ?? (base.startsWith('/') && !base.startsWith('//') ? base : '/'),
    version: o.version ?? (typeof pkg?.version === 'string' && pkg.version !== '' ? pkg.version.slice(0, 100) : '0.0.0'),
    swEntry,
    concurrency: o.concurrency ?? 3,
    bootTimeoutMs: o.bootTimeoutMs ?? 30_000,
    splitClient: o.splitClient ?? true,
    publicKeys: [...new Set(o.publicKeys === undefined ? [] : typeof o.publicKeys === 'string' ? [o.publicKeys] : o.publicKeys)],
  };
}

/** `@scope/my app` → `scope-my-app`; anything unusable → `app`. */
export function sanitizeAppName(name: unknown): string {
  if (typeof name !== 'string') return 'app';
  const cleaned = name
    .replace(/^@/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return v.is(Name, cleaned) ? cleaned : 'app';
}

function readPackageJson(root: string): { name?: unknown; version?: unknown } | null {
  for (let dir = root; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
        return typeof json === 'object' && json !== null ? json : null;
      } catch {
        return null;
      }
    }
    if (dirname(dir) === dir) return null;
  }
}
