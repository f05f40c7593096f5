import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What an admin token may do. Every admin route names one (server/admin.ts):
 * `publish` uploads parts and releases, `rollout` changes channels (rollout, pause, resume,
 * minimum), `read` reads status and the dashboard.
 */
export const SCOPES = ['publish', 'rollout', 'read'] as const;
export type Scope = (typeof SCOPES)[number];

/** A token as the store keeps it: never the token, only its SHA-256. */
export interface StoredToken {
  /** Public part of the token (`updraft_<id>_<secret>`), used to look it up and to revoke it. */
  id: string;
  /** Lowercase hex SHA-256 of the whole token. */
  sha256: string;
  scopes: Scope[];
  /** Free text to tell tokens apart (`ci`, `alice`). */
  name: string | null;
  createdAt: number;
}

/** A token that authenticated: which one (`id`, or `config` for `--token`/token-file ones) and what it may do. */
export interface Principal { id: string; scopes: ReadonlySet<Scope> }

/** A token the server was started with (option `tokens`, `--token-file`), kept only as its digest. */
export interface ConfigToken { token: string; scopes: readonly Scope[] }

const ID_BYTES = 8;
/** 256 bits: far beyond guessing, which is why a fast hash is enough (see `hashToken`). */
const SECRET_BYTES = 32;
const FORMAT = /^updraft_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** `"publish,rollout"` → `['publish', 'rollout']`; `all` means every scope. Throws a TypeError naming a bad one. */
export function parseScopes(list: string): Scope[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new TypeError(`no scope given: use ${SCOPES.join(', ')} or all`);
  const out = new Set<Scope>();
  for (const name of names) {
    if (name === 'all') SCOPES.forEach((s) => out.add(s));
    else if (isScope(name)) out.add(name);
    else throw new TypeError(`unknown scope ${JSON.stringify(name)}: use ${SCOPES.join(', ')} or all`);
  }
  return SCOPES.filter((s) => out.has(s));
}

/**
 * SHA-256, not bcrypt/scrypt/argon2: those slow down guessing low-entropy passwords from a
 * stolen hash. A generated token has 256 random bits, so no amount of guessing finds one from its
 * hash, and a slow hash would only make every admin request slow.
 */
export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export const hashToken = (token: string): string => digestToken(token).toString('hex');

/** A new token and the record to store for it; the token itself is shown once and kept nowhere. */
export function generateToken(scopes: readonly Scope[], name: string | null, now: number): { token: string; stored: StoredToken } {
  const id = randomBytes(ID_BYTES).toString('hex');
  const token = `updraft_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { token, stored: { id, sha256: hashToken(token), scopes: [...scopes], name, createdAt: now } };
}

/** The id of a token in the generated format, or null for any other string (a configured token). */
export function tokenId(token: string): string | null {
  return FORMAT.exec(token)?.[1] ?? null;
}

/** Constant-time: both sides are 32-byte digests, so neither content nor length leaks through timing. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Parses a token file: one token per line, `<scopes> <token>` (`publish,rollout s3cr3t`,
 * `all s3cr3t`); blank lines and `#` comments skipped. Throws a TypeError naming the bad line.
 */
export function parseTokenFile(text: string): ConfigToken[] {
  const out: ConfigToken[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(\S+)\s+(\S+)$/.exec(line);
    if (!m) throw new TypeError(`line ${i + 1}: expected "<scopes> <token>", e.g. "read,rollout s3cr3t"`);
    try {
      out.push({ scopes: parseScopes(m[1]!), token: m[2]! });
    } catch (err) {
      throw new TypeError(`line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}
