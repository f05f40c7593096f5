import { describe, expect, it } from 'vitest';
import type { ReleaseManifest } from '../protocol/index.js';
import { resolveAsset, route, type RouteContext } from './router.js';

const ctx: RouteContext = { scope: 'https://app.test/app/', server: 'https://app.test/app/', manifest: 'https://app.test/app/updraft-release.json', script: 'https://app.test/app/sw.js' };
const get = (url: string, mode = 'no-cors') => route({ url, method: 'GET', mode }, ctx);

describe('route', () => {
  it.each([
    ['https://app.test/app/', 'navigate', { kind: 'navigate', path: '' }],
    ['https://app.test/app/settings/profile?x=1', 'navigate', { kind: 'navigate', path: 'settings/profile' }],
    ['https://app.test/app/assets/a%20b.js', 'no-cors', { kind: 'asset', path: 'assets/a b.js' }],
    ['https://app.test/app/__updraft/state', 'navigate', { kind: 'debug', format: 'text' }],
    ['https://app.test/app/__updraft/state.json', 'cors', { kind: 'debug', format: 'json' }],
    ['https://app.test/app/__updraft/parts/' + 'a'.repeat(64), 'cors', { kind: 'pass' }],
    ['https://app.test/app/v1/check-in', 'cors', { kind: 'pass' }],
    ['https://app.test/app/v1/blobs/abc', 'cors', { kind: 'pass' }],
    ['https://app.test/app/v1', 'navigate', { kind: 'pass' }],
    ['https://app.test/app/v1.html', 'navigate', { kind: 'navigate', path: 'v1.html' }],
    ['https://app.test/app/v10/page', 'navigate', { kind: 'navigate', path: 'v10/page' }],
    ['https://app.test/app/sw.js', 'same-origin', { kind: 'pass' }],
    ['https://app.test/app/updraft-release.json', 'cors', { kind: 'pass' }],
    ['https://app.test/other/page', 'navigate', { kind: 'pass' }],
    ['https://cdn.test/app/x.js', 'no-cors', { kind: 'pass' }],
  ] as const)('%s (%s)', (url, mode, expected) => {
    expect(get(url, mode)).toEqual(expected);
  });

  it('passes non-GET requests', () => {
    expect(route({ url: 'https://app.test/app/x.js', method: 'POST', mode: 'cors' }, ctx)).toEqual({ kind: 'pass' });
  });

  it('passes only-if-cached requests unless same-origin (fetch() throws on them)', () => {
    const req = (mode: string, cache: string) => route({ url: 'https://app.test/app/assets/app.js', method: 'GET', mode, cache }, ctx);
    expect(req('no-cors', 'only-if-cached')).toEqual({ kind: 'pass' });
    expect(req('cors', 'only-if-cached')).toEqual({ kind: 'pass' });
    expect(req('navigate', 'only-if-cached')).toEqual({ kind: 'pass' });
    expect(req('same-origin', 'only-if-cached')).toEqual({ kind: 'asset', path: 'assets/app.js' });
    expect(req('no-cors', 'no-store')).toEqual({ kind: 'asset', path: 'assets/app.js' });
  });

  it('excludes the API of a server on another path', () => {
    const c = { ...ctx, server: 'https://app.test/app/updraft/' };
    expect(route({ url: 'https://app.test/app/updraft/v1/reports', method: 'GET', mode: 'cors' }, c)).toEqual({ kind: 'pass' });
    expect(route({ url: 'https://app.test/app/v1/thing.js', method: 'GET', mode: 'cors' }, c)).toEqual({ kind: 'asset', path: 'v1/thing.js' });
  });
});

describe('resolveAsset', () => {
  const asset = (path: string) => ({ path, sha256: 'a'.repeat(64), size: 1, type: 'x' });
  const release: ReleaseManifest = {
    id: '0123456789abcdef', app: 'demo', version: '1', createdAt: '2030-01-01T00:00:00.000Z', entry: 'index.html',
    assets: [asset('index.html'), asset('assets/app.js'), asset('docs/index.html')],
  };
  it.each([
    ['', true, 'index.html'],
    ['settings/profile', true, 'index.html'],
    ['docs/', true, 'docs/index.html'],
    ['assets/app.js', true, 'assets/app.js'],
    ['assets/app.js', false, 'assets/app.js'],
    ['assets/missing.js', false, null],
    ['assets/missing.js', true, null],
    ['settings/profile', false, null],
  ] as const)('%j navigate=%s → %j', (path, navigate, expected) => {
    expect(resolveAsset(release, path, navigate)?.path ?? null).toBe(expected);
  });

  // The same table as the server's (server/serving.test.ts): a URL opens the same page online and offline.
  it.each([
    ['', 'main.html'],
    ['docs/', 'docs/index.html'],
    ['docs', 'docs/index.html'],
    ['docs/intro', 'main.html'],
    ['settings/', 'main.html'],
    ['index.html', 'index.html'],
    ['docs/guide.css', 'docs/guide.css'],
    ['docs/missing.png', null],
  ] as const)('navigating to %j opens %j, as on the server', (path, expected) => {
    const pages: ReleaseManifest = { ...release, entry: 'main.html', assets: [asset('main.html'), asset('index.html'), asset('docs/index.html'), asset('docs/guide.css')] };
    expect(resolveAsset(pages, path, true)?.path ?? null).toBe(expected);
  });
});
