import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { generateToken, parseScopes, parseTokenFile, tokenId, type Scope } from './admin-token.js';
import { BlobStore } from './blob-store.js';
import { DASHBOARD_COOKIE } from './dashboard.js';
import { fakeDist } from './fake-dist.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const LEGACY = 'legacy-all-scopes-token';

/** A server with one release (its parts uploaded) on `stable`, and a stored token per scope set. */
async function setup(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-scopes-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const app = createUpdateServer({ store, blobs, token: LEGACY, serve: false, ...o });
  const dist = await fakeDist({ 'index.html': '<h1>1</h1>' }, { version: '1' });
  const bytes = dist.files.get('index.html')!;
  const sha = dist.manifest.assets[0]!.sha256;
  const tokenFor = async (scopes: Scope[]) => {
    const { token, stored } = generateToken(scopes, null, 1);
    await store.insertToken(stored);
    return token;
  };
  const call = (token: string | null, route: Route) =>
    app.request(`http://localhost/${route.path}`, {
      method: route.method,
      headers: token === null ? {} : { Authorization: `Bearer ${token}` },
      ...(route.body === undefined ? {} : { body: route.body instanceof Uint8Array ? (route.body as Uint8Array<ArrayBuffer>) : JSON.stringify(route.body) }),
    });
  // Publish once with the all-scopes token so the channel and read routes have something to act on.
  const routes: Route[] = [
    { name: 'POST missing-blobs', scope: 'publish', method: 'POST', path: PATHS.adminMissingBlobs, body: { sha256s: [sha] } },
    { name: 'PUT blob', scope: 'publish', method: 'PUT', path: PATHS.adminBlob(sha), body: bytes },
    { name: 'POST release', scope: 'publish', method: 'POST', path: PATHS.adminReleases, body: dist.manifest },
    { name: 'PUT channel (rollout)', scope: 'rollout', method: 'PUT', path: PATHS.adminChannel('stable'), body: { release: dist.manifest.id, percent: 50 } },
    { name: 'PUT channel (pause)', scope: 'rollout', method: 'PUT', path: PATHS.adminChannel('stable'), body: { paused: true } },
    { name: 'PUT channel (minimum)', scope: 'rollout', method: 'PUT', path: PATHS.adminChannel('stable'), body: { minimum: dist.manifest.id } },
    { name: 'GET status', scope: 'read', method: 'GET', path: PATHS.adminStatus },
    { name: 'GET dashboard', scope: 'read', method: 'GET', path: 'v1/admin/dashboard' },
  ];
  for (const r of routes.slice(1, 4)) expect((await call(LEGACY, r)).status).toBeLessThan(300);
  return { app, store, dir, call, tokenFor, routes, dist };
}

interface Route { name: string; scope: Scope; method: string; path: string; body?: unknown }

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; details?: { required?: string } } }).error;

describe('admin scopes', () => {
  it('each scope opens exactly its routes: others answer 403 forbidden naming the scope; no token 401 unauthorized', async () => {
    const { call, tokenFor, routes } = await setup();
    for (const scopes of [['publish'], ['rollout'], ['read'], ['publish', 'rollout']] as Scope[][]) {
      const token = await tokenFor(scopes);
      for (const route of routes) {
        const res = await call(token, route);
        const label = `${scopes.join(',')} → ${route.name}`;
        if (scopes.includes(route.scope)) {
          expect(res.status, label).toBeLessThan(300);
        } else {
          expect(res.status, label).toBe(403);
          const ct = res.headers.get('content-type') ?? '';
          if (route.name === 'GET dashboard') expect(ct, label).toMatch(/text\/html/);
          else {
            expect(await errorOf(res), label).toMatchObject({ code: 'forbidden', details: { required: route.scope } });
            expect(res.headers.get('WWW-Authenticate'), label).toContain('insufficient_scope');
          }
        }
      }
    }
    for (const route of routes) {
      const res = await call(null, route);
      expect(res.status, route.name).toBe(401);
      if (route.name !== 'GET dashboard') expect((await errorOf(res)).code).toBe('unauthorized');
    }
  });

  it('the single --token keeps every scope (backward compatible); config tokens carry their own scopes', async () => {
    const { call, routes } = await setup({ tokens: [{ token: 'reader-from-file', scopes: ['read'] }] });
    for (const route of routes) expect((await call(LEGACY, route)).status, route.name).toBeLessThan(300);
    const status = routes.find((r) => r.name === 'GET status')!;
    const channel = routes.find((r) => r.scope === 'rollout')!;
    expect((await call('reader-from-file', status)).status).toBe(200);
    expect((await call('reader-from-file', channel)).status).toBe(403);
    expect((await call('reader-from-file-x', status)).status).toBe(401);
  });

  it('a stored token counts at once and stops at once when deleted; a forged one with a known id fails', async () => {
    const { call, tokenFor, routes, store } = await setup();
    const status = routes.find((r) => r.name === 'GET status')!;
    const token = await tokenFor(['read']);
    expect((await call(token, status)).status).toBe(200);
    // Same id, another secret: the id only finds the record, the hash decides.
    const forged = `updraft_${tokenId(token)}_${'A'.repeat(43)}`;
    expect(tokenId(forged)).toBe(tokenId(token));
    expect((await call(forged, status)).status).toBe(401);
    await store.deleteToken(tokenId(token)!);
    const res = await call(token, status);
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ code: 'unauthorized' });
  });

  it('unknown admin paths answer 401 before 404, so their existence is not told to strangers', async () => {
    const { app } = await setup();
    expect((await app.request('/v1/admin/nope')).status).toBe(401);
    expect((await app.request('/v1/admin/nope', { headers: { Authorization: `Bearer ${LEGACY}` } })).status).toBe(404);
  });

  it('a dashboard session belongs to its token: a read token signs in, a publish-only one gets 403, revoking ends the session', async () => {
    const { app, tokenFor, store } = await setup();
    const url = 'http://localhost/v1/admin/dashboard';
    const publisher = await tokenFor(['publish']);
    const denied = await app.request(`${url}?token=${publisher}`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('set-cookie')).toBeNull();
    const reader = await tokenFor(['read']);
    const signIn = await app.request(`${url}?token=${reader}`);
    expect(signIn.status).toBe(303);
    const pair = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect(pair.startsWith(`${DASHBOARD_COOKIE}=${tokenId(reader)}.`)).toBe(true);
    expect(pair).not.toContain(reader.slice(-43));
    expect((await app.request(url, { headers: { Cookie: pair } })).status).toBe(200);
    // A session value for another token's id does not pass.
    const other = await tokenFor(['read']);
    const swapped = pair.replace(tokenId(reader)!, tokenId(other)!);
    expect((await app.request(url, { headers: { Cookie: swapped } })).status).toBe(401);
    await store.deleteToken(tokenId(reader)!);
    expect((await app.request(url, { headers: { Cookie: pair } })).status).toBe(401);
  });

  it('without any token every admin route is closed', async () => {
    const { call, routes } = await setup();
    const { dir, store } = tempStore({ prefix: 'updraft-scopes-' });
    const closed = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), serve: false });
    for (const route of routes) {
      const res = await closed.request(`http://localhost/${route.path}`, { method: route.method });
      expect(res.status, route.name).toBe(401);
    }
    expect((await call('', routes[0]!)).status).toBe(401);
  });
});

describe('token formats', () => {
  it('generated tokens: 256-bit secret, id prefix, SHA-256 record; scopes parse and validate', () => {
    const { token, stored } = generateToken(['read'], 'ci', 5);
    expect(token).toMatch(/^updraft_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(stored).toMatchObject({ id: tokenId(token), scopes: ['read'], name: 'ci', createdAt: 5 });
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(token.slice(-43));
    expect(generateToken(['read'], null, 5).token).not.toBe(token);
    expect(parseScopes('rollout, publish')).toEqual(['publish', 'rollout']);
    expect(parseScopes('all')).toEqual(['publish', 'rollout', 'read']);
    expect(() => parseScopes('admin')).toThrow(/unknown scope "admin"/);
    expect(() => parseScopes(' , ')).toThrow(/no scope/);
  });

  it('token files: "<scopes> <token>" a line, comments and blanks skipped, a bad line named', () => {
    expect(parseTokenFile('# ci\npublish,rollout  tok-1\n\nread tok-2\r\nall tok-3\n')).toEqual([
      { scopes: ['publish', 'rollout'], token: 'tok-1' }, { scopes: ['read'], token: 'tok-2' }, { scopes: ['publish', 'rollout', 'read'], token: 'tok-3' },
    ]);
    expect(() => parseTokenFile('read tok\njust-a-token\n')).toThrow(/line 2/);
    expect(() => parseTokenFile('reed tok\n')).toThrow(/line 1: unknown scope/);
  });
});
