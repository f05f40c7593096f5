import { describe, expect, it } from 'vitest';
import { resolvePagePath } from './page-path.js';

describe('resolvePagePath', () => {
  const paths = new Set(['main.html', 'index.html', 'docs/index.html', 'docs/guide.css', 'v1.2/index.html']);
  it.each([
    ['', 'main.html'],
    ['index.html', 'index.html'],
    ['docs/', 'docs/index.html'],
    ['docs', 'docs/index.html'],
    ['docs/guide.css', 'docs/guide.css'],
    ['docs/intro', 'main.html'],
    ['settings/', 'main.html'],
    ['settings/profile', 'main.html'],
    // A dot in a directory's name is not an extension.
    ['v1.2/', 'v1.2/index.html'],
    ['v1.2/notes', 'main.html'],
    ['report.pdf', null],
    ['page.html', null],
    ['docs/missing.png', null],
  ] as const)('%j → %j', (path, expected) => {
    expect(resolvePagePath(path, 'main.html', (p) => paths.has(p))).toBe(expected);
  });
});
