import { createHmac } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { UpdraftError } from '../protocol/index.js';
import { SCOPES, digestToken, sameDigest, tokenId, type ConfigToken, type Principal, type Scope } from './admin-token.js';
import type { Store } from './store.js';

export type AdminEnv = { Variables: { principal: Principal } };

interface Known { id: string; digest: Buffer; scopes: ReadonlySet<Scope> }

/**
 * The admin tokens a server accepts: those created with `updraft tokens create` (in the store,
 * looked up by the id in the token, so one created or revoked while the server runs counts at
 * once) and those it was started with (`token`, `tokens`), held as digests only.
 */
export class AdminTokens {
  readonly #store: Store;
  readonly #config: Known[];

  constructor(store: Store, config: readonly ConfigToken[]) {
    this.#store = store;
    this.#config = config.map((t, i) => ({ id: `config-${i}`, digest: digestToken(t.token), scopes: new Set(t.scopes) }));
  }

  /** The principal `token` authenticates as, or null. */
  async verify(token: string): Promise<Principal | null> {
    const digest = digestToken(token);
    const id = tokenId(token);
    if (id !== null) {
      const stored = await this.#store.getToken(id);
      if (stored && sameDigest(digest, Buffer.from(stored.sha256, 'hex'))) return { id, scopes: new Set(stored.scopes) };
    }
    // Every configured digest is compared, so the time taken does not say which one matched.
    let found: Known | null = null;
    for (const k of this.#config) if (sameDigest(digest, k.digest) && !found) found = k;
    return found && { id: found.id, scopes: found.scopes };
  }

  /**
   * A dashboard session value for a principal: `<id>.<HMAC of the token's digest>`. It proves the
   * token was presented without being the token; the digest is what the store holds, so reading
   * the database lets one forge a session — for the dashboard only, which shows nothing the
   * database does not.
   */
  async session(principal: Principal): Promise<string | null> {
    const digest = await this.#digestOf(principal.id);
    return digest && `${principal.id}.${mac(digest)}`;
  }

  /** The principal a session value stands for, while its token still exists (revoking one ends its sessions). */
  async fromSession(value: string): Promise<Principal | null> {
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const id = value.slice(0, dot);
    const digest = await this.#digestOf(id);
    if (!digest || !sameDigest(digestToken(value.slice(dot + 1)), digestToken(mac(digest)))) return null;
    const config = this.#config.find((k) => k.id === id);
    if (config) return { id, scopes: config.scopes };
    const stored = await this.#store.getToken(id);
    return stored && { id, scopes: new Set(stored.scopes) };
  }

  async #digestOf(id: string): Promise<Buffer | null> {
    const config = this.#config.find((k) => k.id === id);
    if (config) return config.digest;
    if (!/^[0-9a-f]{16}$/.test(id)) return null;
    const stored = await this.#store.getToken(id);
    return stored ? Buffer.from(stored.sha256, 'hex') : null;
  }
}

const mac = (digest: Buffer) => createHmac('sha256', digest).update('updraft-dashboard-v2').digest('base64url');

/** The bearer token of a request, if it sent one. */
export function bearerToken(c: Context): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(c.req.header('Authorization') ?? '')?.[1]?.trim();
}

/**
 * Authenticates every `/v1/admin/*` request by its bearer token: none or an unknown one → 401
 * `unauthorized` (with `WWW-Authenticate`, RFC 6750 §3). The principal goes to `c.var` for
 * `requireScope`. An unknown admin path thus answers 401 before 404: without a token, nobody
 * learns which admin routes exist.
 */
export function adminAuth(tokens: AdminTokens): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const token = bearerToken(c);
    const principal = token ? await tokens.verify(token) : null;
    if (!principal) {
      c.header('WWW-Authenticate', 'Bearer realm="updraft"');
      throw new UpdraftError('unauthorized', token ? 'unknown or revoked bearer token' : 'an admin bearer token is required');
    }
    c.set('principal', principal);
    await next();
  };
}

/** 403 `forbidden` unless the authenticated token holds `scope` (RFC 6750 §3.1 `insufficient_scope`). */
export function requireScope(scope: Scope): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal.scopes.has(scope)) {
      c.header('WWW-Authenticate', `Bearer realm="updraft", error="insufficient_scope", scope="${scope}"`);
      throw new UpdraftError('forbidden', `this token lacks the ${scope} scope`, { required: scope, granted: SCOPES.filter((s) => principal.scopes.has(s)) });
    }
    await next();
  };
}
