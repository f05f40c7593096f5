import { describe, expect, it } from 'vitest';
import { checkManifestConsistency, computeReleaseId, type ReleaseManifest } from './release.js';

const asset = (path: string, c: string) => ({ path, sha256: c.repeat(64), size: 1, type: 'text/plain' });
const assets = [asset('index.html', 'a'), asset('assets/app.js', 'b')];
const sw = asset('sw.js', 'c');
const manifest = (id: string, withSw = true): ReleaseManifest =>
  ({ id, app: 'demo', version: '1', createdAt: '2026-01-01T00:00:00.000Z', entry: 'index.html', assets, ...(withSw ? { sw } : {}) });

describe('release ids', () => {
  it('cover the worker: the same files with another sw.js are another release', async () => {
    const one = await computeReleaseId(assets, 'index.html', sw);
    expect(await computeReleaseId(assets, 'index.html', asset('sw.js', 'd'))).not.toBe(one);
    expect(await computeReleaseId(assets, 'index.html')).not.toBe(one);
    // Order of the asset list does not matter; the worker line cannot be mistaken for an asset's.
    expect(await computeReleaseId([...assets].reverse(), 'index.html', sw)).toBe(one);
  });

  it('checkManifestConsistency takes an id of either form (with sw.js, or of the app files only, as before 0.5), and no other', async () => {
    const current = await computeReleaseId(assets, 'index.html', sw);
    const legacy = await computeReleaseId(assets, 'index.html');
    expect(await checkManifestConsistency(manifest(current))).toBeNull();
    expect(await checkManifestConsistency(manifest(legacy))).toBeNull();
    expect(await checkManifestConsistency(manifest(legacy, false))).toBeNull();
    expect(await checkManifestConsistency(manifest(current, false))).toMatch(/does not match its assets/);
    expect(await checkManifestConsistency(manifest('0123456789abcdef'))).toMatch(/does not match its assets \(expected /);
  });
});
