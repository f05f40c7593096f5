// The README's reference promises every public export, by entry point. This holds it to that: each
// name an entry point exports (values and types) appears in that entry point's section. Read from
// the sources as text, so types count too. `updraft/protocol` re-exports whole modules and is
// described by kind, so it is left out.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { exports: Record<string, { default?: string }> };

/** The names a module exports, from its `export` statements. */
function exportedNames(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const item of m[1]!.split(',')) {
      const name = item.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      if (name) names.add(name);
    }
  }
  for (const m of source.matchAll(/^export\s+(?:async\s+)?(?:function|const|class|interface|type)\s+([A-Za-z_$][\w$]*)/gm)) names.add(m[1]!);
  if (/^export\s+\*/m.test(source)) throw new Error('export * hides names from this check: list them');
  return [...names];
}

/** The README's section for an entry point: from its heading to the next entry point's. */
function section(entry: string): string {
  const start = readme.indexOf(`### \`${entry}\``);
  if (start < 0) throw new Error(`README has no section for ${entry}`);
  const next = readme.indexOf('### `updraft/', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

const entries = Object.entries(pkg.exports)
  .filter(([key]) => key !== './package.json' && key !== './protocol')
  .map(([key, target]) => ({ entry: `updraft/${key.slice(2)}`, source: target.default!.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts') }));

describe('README reference', () => {
  it('covers every entry point but the protocol', () => {
    expect(entries.map((e) => e.entry).sort()).toEqual(['updraft/client', 'updraft/playwright', 'updraft/server', 'updraft/sw', 'updraft/vite']);
  });

  for (const { entry, source } of entries) {
    it(`names every export of ${entry} (${source})`, () => {
      const names = exportedNames(readFileSync(resolve(root, source), 'utf8'));
      expect(names.length).toBeGreaterThan(2);
      const text = section(entry);
      const missing = names.filter((name) => !new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(text));
      expect(missing, `exported by ${source} but not in README's ${entry} section`).toEqual([]);
    });
  }
});
