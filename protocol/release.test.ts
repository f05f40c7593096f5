import { describe, expect, it } from 'vitest';
import { checkManifestConsistency, computeReleaseId, releaseIdForm, type ReleaseManifest } from './release.js';

const asset = (path: string, c: string) => ({ path, sha256: c.repeat(64), size: 1, type: 'text/plain' });
const assets = [asset('index.html', 'a'), asset('assets/app.js', 'b')];
const sw = asset('sw.js', 'c');
const manifest = (id: string, withSw = true): ReleaseManifest =>
  ({ id, app: 'demo', version: '1', createdAt: '2026-01-01T00:00:00.000Z', entry: 'index.html', assets, ...(withSw ? { sw } : {}) });

describe('release ids', () => {
  it('cover the worker: the same files with another sw.js are another release', async () => {
    const one = await computeReleaseId(assets, 'index.html', sw);
    expect(one).toMatch(/^[0-9a-f]{16}$/);
    expect(await computeReleaseId(assets, 'index.html', asset('sw.js', 'd'))).not.toBe(one);
    expect(await computeReleaseId(assets, 'index.html')).not.toBe(one);
    // The order of the asset list does not matter; the worker's line cannot be mistaken for an asset's.
    expect(await computeReleaseId([...assets].reverse(), 'index.html', sw)).toBe(one);
    expect(await computeReleaseId([...assets, { path: 'sw', sha256: sw.sha256 }], 'index.html')).not.toBe(one);
  });

  it('the form of an id: covering sw.js, of the app\'s files only (before 0.6, or no sw), or neither', async () => {
    const current = await computeReleaseId(assets, 'index.html', sw);
    const legacy = await computeReleaseId(assets, 'index.html');
    expect(await releaseIdForm(manifest(current))).toBe('sw');
    expect(await releaseIdForm(manifest(legacy))).toBe('files');
    // Without a worker both forms are one: nothing in it needs a worker of 0.6.
    expect(await releaseIdForm(manifest(legacy, false))).toBe('files');
    expect(await releaseIdForm(manifest(current, false))).toBeNull();
    expect(await releaseIdForm(manifest('0123456789abcdef'))).toBeNull();
  });

  it('checkManifestConsistency takes an id of either form, and no other', async () => {
    const current = await computeReleaseId(assets, 'index.html', sw);
    const legacy = await computeReleaseId(assets, 'index.html');
    expect(await checkManifestConsistency(manifest(current))).toBeNull();
    expect(await checkManifestConsistency(manifest(legacy))).toBeNull();
    expect(await checkManifestConsistency(manifest(legacy, false))).toBeNull();
    expect(await checkManifestConsistency(manifest(current, false))).toBe(`release id ${current} does not match its assets (expected ${legacy})`);
    expect(await checkManifestConsistency(manifest('0123456789abcdef'))).toBe(`release id 0123456789abcdef does not match its assets (expected ${current})`);
    // Another worker under an id that covers one: not this release.
    expect(await checkManifestConsistency({ ...manifest(current), sw: asset('sw.js', 'd') })).toMatch(/does not match its assets/);
  });
});
