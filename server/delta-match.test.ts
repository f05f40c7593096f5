import { describe, expect, it } from 'vitest';
import type { ReleaseManifest } from '../protocol/index.js';
import { logicalPath, predecessors } from './delta-match.js';
import { chooseEncoding } from './precompress.js';

describe('logicalPath', () => {
  it.each([
    ['assets/index-B3xk9_aQ.js', 'assets/index.js'],
    ['assets/index-Cz81fm-w.css', 'assets/index.css'],
    ['assets/route-about-DdE5fG6h.js', 'assets/route-about.js'],
    ['index.html', 'index.html'],
    ['assets/vendor.js', 'assets/vendor.js'],
    ['assets/a-short.js', 'assets/a-short.js'],
  ])('%s → %s', (path, logical) => expect(logicalPath(path)).toBe(logical));
});

const manifest = (assets: [string, string][]): ReleaseManifest => ({
  id: '0123456789abcdef', app: 'demo', version: '1', createdAt: '2030-01-01T00:00:00.000Z', entry: 'index.html',
  assets: assets.map(([path, c]) => ({ path, sha256: c.repeat(64), size: 1, type: 'text/javascript' })),
});

describe('predecessors', () => {
  it('pairs each changed part with the part at the same logical path; unchanged, new and ambiguous ones get none', () => {
    const from = manifest([['index.html', 'a'], ['assets/index-AAAAAAAA.js', 'b'], ['assets/same-SSSSSSSS.js', 'c'], ['x/dup-11111111.js', 'd'], ['x/dup-22222222.js', 'e']]);
    const to = manifest([['index.html', '1'], ['assets/index-BBBBBBBB.js', '2'], ['assets/same-SSSSSSSS.js', 'c'], ['assets/new-NNNNNNNN.js', '3'], ['x/dup-33333333.js', '4']]);
    expect(predecessors(from, to)).toEqual([{ from: 'a'.repeat(64), to: '1'.repeat(64) }, { from: 'b'.repeat(64), to: '2'.repeat(64) }]);
  });
});

describe('chooseEncoding', () => {
  it.each([
    ['gzip, deflate, br, zstd', ['br', 'gzip'], 'br'],
    ['gzip, deflate', ['br', 'gzip'], 'gzip'],
    ['br;q=0, gzip;q=0.5', ['br', 'gzip'], 'gzip'],
    ['*', ['gzip'], 'gzip'],
    ['identity', ['br', 'gzip'], null],
    [undefined, ['br', 'gzip'], null],
    ['br', [], null],
  ] as const)('%s with %j → %s', (header, available, chosen) => expect(chooseEncoding(header, available)).toBe(chosen));
});
