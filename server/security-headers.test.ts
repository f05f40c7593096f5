import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist } from './fake-dist.js';
import { startServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { headersFor } from './security-headers.js';
import { openSqliteStore, type SqliteStore } from './sqlite-store.js';

const TOKEN = 'headers-token';
const auth = { Authorization: `Bearer ${TOKEN}` };
const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store and blob dir holding one published release on `stable`. */
async function published() {
  const dir = mkdtempSync(join(tmpdir(), 'updraft-headers-'));
  dirs.push(dir);
  const store = openSqliteStore(dir);
  stores.push(store);
  const blobs = new BlobStore(join(dir, 'blobs'));
  const d = await fakeDist({ 'index.html': '<h1>v1</h1>', 'assets/app-1.js': 'console.log(1)', 'docs/v1/guide.html': '<p>guide</p>' }, { version: '1', sw: 'self.x=1' });
  for (const a of [...d.manifest.assets, d.manifest.sw!]) {
    await blobs.write(a.sha256, [d.files.get(a.path)!] as unknown as AsyncIterable<Uint8Array>);
    await store.putBlob(a.sha256, a.size);
  }
  await store.insertRelease(d.manifest, 1);
  await store.putChannel(d.manifest.app, 'stable', { release: d.manifest.id }, 1);
  const app = (o: Partial<UpdateServerOptions> = {}) => createUpdateServer({ store, blobs, token: TOKEN, ...o });
  return { dir, store, blobs, d, app };
}

const checkIn = { method: 'POST', body: JSON.stringify({ client: 'client-head-01', app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, swIds: true } }) };

describe('surfaces', () => {
  it('the app gets a CSP only when one is configured', () => {
    expect(headersFor('app').map(([k]) => k)).not.toContain('Content-Security-Policy');
    expect(headersFor('app', { contentSecurityPolicy: "default-src 'self'" })).toContainEqual(['Content-Security-Policy', "default-src 'self'"]);
    expect(headersFor('app', { crossOriginResourcePolicy: 'cross-origin' })).toContainEqual(['Cross-Origin-Resource-Policy', 'cross-origin']);
  });
});

describe('security headers and CORS per route', () => {
  it('check-in and reports: nosniff and CORS exposing Retry-After only, no CORP or referrer policy (CORS JSON answers, every byte paid per update)', async () => {
    const { app: make, d } = await published();
    const app = make();
    const requests: [string, RequestInit, number][] = [
      [`/${PATHS.checkIn}`, checkIn, 200],
      [`/${PATHS.checkIn}`, { method: 'POST', body: '{' }, 400],
      [`/${PATHS.reports}`, { method: 'POST', body: JSON.stringify({ reports: [{ client: 'client-head-01', app: 'demo', release: d.manifest.id, event: 'downloaded', at: 1 }] }) }, 202],
    ];
    for (const [path, init, status] of requests) {
      const res = await app.request(`http://localhost${path}`, init);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(res.headers.get('Cross-Origin-Resource-Policy'), path).toBeNull();
      expect(res.headers.get('Referrer-Policy'), path).toBeNull();
      expect(res.headers.get('Access-Control-Allow-Origin'), path).toBe('*');
      // Exposed only by the refusals that carry a Retry-After (load-shedding.test.ts).
      expect(res.headers.get('Access-Control-Expose-Headers'), path).toBeNull();
      expect(res.headers.get('Content-Security-Policy'), path).toBeNull();
    }
  });

  it('public API: nosniff, CORP cross-origin and CORS on parts and releases, errors included', async () => {
    const { app: make, d } = await published();
    const app = make();
    const requests: [string, RequestInit, number][] = [
      [`/${PATHS.blob(d.manifest.assets[0]!.sha256)}`, {}, 200],
      [`/${PATHS.blob('0'.repeat(64))}`, {}, 404],
      [`/v1/releases/${d.manifest.id}`, {}, 200],
    ];
    for (const [path, init, status] of requests) {
      const res = await app.request(`http://localhost${path}`, init);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(res.headers.get('Cross-Origin-Resource-Policy'), path).toBe('cross-origin');
      expect(res.headers.get('Referrer-Policy'), path).toBe('no-referrer');
      expect(res.headers.get('Access-Control-Allow-Origin'), path).toBe('*');
      expect(res.headers.get('Content-Security-Policy'), path).toBeNull();
    }
    // A Range answer (206) is a Response of its own too.
    const range = await app.request(`/${PATHS.blob(d.manifest.assets[0]!.sha256)}`, { headers: { Range: 'bytes=0-1' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
  });

  it('admin API: no CORS at all (no preflight either), CORP same-origin, no-store, no framing', async () => {
    const { app: make } = await published();
    const app = make();
    for (const [path, init] of [[`/${PATHS.adminStatus}`, { headers: { ...auth, Origin: 'https://evil.example' } }], [`/${PATHS.adminStatus}`, {}], ['/v1/admin/nope', { headers: auth }]] as const) {
      const res = await app.request(`http://localhost${path}`, init);
      expect(res.headers.get('Access-Control-Allow-Origin'), path).toBeNull();
      expect(res.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(res.headers.get('Cross-Origin-Resource-Policy'), path).toBe('same-origin');
      expect(res.headers.get('Cache-Control'), path).toBe('no-store');
      expect(res.headers.get('X-Frame-Options'), path).toBe('DENY');
    }
    const preflight = await app.request(`/${PATHS.adminStatus}`, {
      method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBeNull();
    expect(preflight.headers.get('Access-Control-Allow-Headers')).toBeNull();
    // The dashboard keeps its own strict CSP (no script) and gets the rest.
    const dash = await app.request('/v1/admin/dashboard', { headers: auth });
    expect(dash.status).toBe(200);
    expect(dash.headers.get('Content-Security-Policy')).toMatch(/^default-src 'none'/);
    expect(dash.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
  });

  it('the served app: nosniff, CORP same-origin and a Referrer-Policy by default, no CSP unless configured, no CORS', async () => {
    const { app: make } = await published();
    for (const path of ['/', '/assets/app-1.js', '/docs/v1/guide.html', '/sw.js', '/updraft-release.json', '/missing.png']) {
      const res = await make().request(path);
      expect(res.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(res.headers.get('Cross-Origin-Resource-Policy'), path).toBe('same-origin');
      expect(res.headers.get('Referrer-Policy'), path).toBe('strict-origin-when-cross-origin');
      expect(res.headers.get('Content-Security-Policy'), path).toBeNull();
      expect(res.headers.get('Access-Control-Allow-Origin'), path).toBeNull();
    }
    const csp = "default-src 'self'; object-src 'none'";
    const strict = make({ securityHeaders: { contentSecurityPolicy: csp, referrerPolicy: 'no-referrer', crossOriginResourcePolicy: 'same-site' } });
    const page = await strict.request('/');
    expect(await page.text()).toBe('<h1>v1</h1>'); // nothing injected: the policy needs no inline-script exception
    expect(page.headers.get('Content-Security-Policy')).toBe(csp);
    expect(page.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(page.headers.get('Cross-Origin-Resource-Policy')).toBe('same-site');
    // The app's policy is the app's: the API keeps its own headers.
    const api = await strict.request(`/${PATHS.checkIn}`, checkIn);
    expect(api.headers.get('Content-Security-Policy')).toBeNull();
    expect(api.headers.get('Cross-Origin-Resource-Policy')).toBeNull();
    expect(api.headers.get('Referrer-Policy')).toBeNull();
  });

  it('mounted under a prefix, each path still gets its surface; app files in a v1/ folder stay app files', async () => {
    const { app: make, d } = await published();
    const outer = new Hono().route('/updraft', make());
    const blob = await outer.request(`/updraft/${PATHS.blob(d.manifest.assets[0]!.sha256)}`);
    expect(blob.status).toBe(200);
    expect(blob.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
    const admin = await outer.request(`/updraft/${PATHS.adminStatus}`, { headers: auth });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
    for (const path of ['/updraft/', '/updraft/docs/v1/guide.html']) {
      const page = await outer.request(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('Cross-Origin-Resource-Policy'), path).toBe('same-origin');
      expect(page.headers.get('Referrer-Policy'), path).toBe('strict-origin-when-cross-origin');
    }
    const unknown = await outer.request('/updraft/v1/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
  });

  it('over a real port: the same headers reach an HTTP client', async () => {
    const { store, blobs, d } = await published();
    const server = await startServer({ store, blobs, token: TOKEN, securityHeaders: { contentSecurityPolicy: "default-src 'self'" } });
    try {
      const blob = await fetch(new URL(PATHS.blob(d.manifest.assets[0]!.sha256), server.url), { headers: { Origin: 'https://app.example' } });
      expect(blob.status).toBe(200);
      expect(blob.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(blob.headers.get('access-control-allow-origin')).toBe('*');
      expect(blob.headers.get('x-content-type-options')).toBe('nosniff');
      await blob.arrayBuffer();
      const status = await fetch(new URL(PATHS.adminStatus, server.url), { headers: { ...auth, Origin: 'https://evil.example' } });
      expect(status.status).toBe(200);
      expect(status.headers.get('access-control-allow-origin')).toBeNull();
      expect(status.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      await status.arrayBuffer();
      const page = await fetch(server.url);
      expect(page.headers.get('content-security-policy')).toBe("default-src 'self'");
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      await page.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});
