import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { resolveOptions, sanitizeAppName } from './options.js';

const dir = mkdtempSync(join(tmpdir(), 'updraft-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function project(pkg: object | null): string {
  const root = mkdtempSync(join(dir, 'p-'));
  if (pkg) writeFileSync(join(root, 'package.json'), JSON.stringify(pkg));
  mkdirSync(join(root, 'src'));
  return root;
}

describe('resolveOptions', () => {
  test('defaults come from the nearest package.json', () => {
    const root = project({ name: '@acme/Shop App', version: '4.2.0' });
    expect(resolveOptions({}, join(root, 'src'))).toEqual({
      app: 'acme-Shop-App', channel: 'stable', server: '/', version: '4.2.0', swEntry: null, concurrency: 3, bootTimeoutMs: 30_000, publicKeys: [], splitClient: true,
    });
  });

  test.each(['/', '/updraft/', 'updraft/', '../api/', 'https://u.example/updraft/', 'http://127.0.0.1:8787'])('server %j is accepted', (server) => {
    expect(resolveOptions({ server }, project(null)).server).toBe(server);
  });

  test.each([
    ['/', '/'],
    ['/app/', '/app/'],
    ['./', '/'],
    ['', '/'],
    ['https://cdn.example.com/app/', '/'],
    ['//cdn.example.com/app/', '/'],
  ])('with Vite base %j the server defaults to %j; an explicit one wins', (base, server) => {
    const root = project(null);
    expect(resolveOptions({}, root, base).server).toBe(server);
    expect(resolveOptions({ server: 'https://u.example/' }, root, base).server).toBe('https://u.example/');
  });

  test('explicit options win and swEntry becomes absolute', () => {
    const root = project({ name: 'x', version: '1.0.0' });
    writeFileSync(join(root, 'src/sw.ts'), "import { startUpdraft } from 'updraft/sw';\nstartUpdraft();\n");
    const o = resolveOptions({ app: 'demo', channel: 'beta', server: 'https://u.example/updraft/', version: '9', swEntry: 'src/sw.ts', concurrency: 5, bootTimeoutMs: 5000 }, root);
    expect(o).toEqual({ app: 'demo', channel: 'beta', server: 'https://u.example/updraft/', version: '9', swEntry: join(root, 'src/sw.ts'), concurrency: 5, bootTimeoutMs: 5000, publicKeys: [], splitClient: true });
    expect(resolveOptions({ bootTimeoutMs: 0 }, root).bootTimeoutMs).toBe(0);
  });

  test('publicKeys: one string or a list, the .pub file contents with its newline, duplicates once', () => {
    const root = project({ name: 'x', version: '1.0.0' });
    const key = `ed25519:${'A'.repeat(43)}`;
    const other = `ed25519:${'B'.repeat(43)}`;
    expect(resolveOptions({ publicKeys: `${key}\n` }, root).publicKeys).toEqual([key]);
    expect(resolveOptions({ publicKeys: [key, other, key] }, root).publicKeys).toEqual([key, other]);
  });

  test('a swEntry that does not exist fails here, before the app is built', () => {
    const root = project({ name: 'x', version: '1.0.0' });
    expect(() => resolveOptions({ swEntry: 'src/sw.ts' }, root)).toThrow(
      `[updraft] invalid options: swEntry: ${join(root, 'src/sw.ts')} does not exist`,
    );
    expect(() => resolveOptions({ swEntry: 'src' }, root)).toThrow(/^\[updraft\] invalid options: swEntry: .* is not a file/);
  });

  test.each([
    [{ chanel: 'beta' }, /^\[updraft\] unknown option "chanel"/],
    [{ channel: 'my channel' }, /^\[updraft\] invalid options: channel:/],
    [{ concurrency: 0 }, /^\[updraft\] invalid options: concurrency:/],
    [{ concurrency: 1.5 }, /^\[updraft\] invalid options: concurrency: must be an integer/],
    [{ app: '' }, /^\[updraft\] invalid options: app:/],
    [{ server: 42 }, /^\[updraft\] invalid options: server:/],
    [{ server: 'ftp://updates.example/' }, /^\[updraft\] invalid options: server: must be an http\(s\) URL or a path/],
    [{ server: 'javascript:alert(1)' }, /^\[updraft\] invalid options: server: must be an http\(s\) URL or a path/],
    [{ server: 'http://[::1' }, /^\[updraft\] invalid options: server: must be an http\(s\) URL or a path/],
    [{ version: '1.0\n' }, /^\[updraft\] invalid options: version: must be one line without control characters/],
    [{ bootTimeoutMs: 500 }, /^\[updraft\] invalid options: bootTimeoutMs: must be 0 \(off\) or 1000 to 86400000 ms/],
    [{ bootTimeoutMs: 86_400_001 }, /^\[updraft\] invalid options: bootTimeoutMs:/],
    [{ bootTimeoutMs: 1500.5 }, /^\[updraft\] invalid options: bootTimeoutMs: must be an integer/],
    [{ bootTimeoutMs: '30s' }, /^\[updraft\] invalid options: bootTimeoutMs:/],
    [{ publicKeys: 'ed25519:short' }, /^\[updraft\] invalid options: publicKeys: must be an Ed25519 public key/],
    [{ publicKeys: ['-----BEGIN PRIVATE KEY-----'] }, /^\[updraft\] invalid options: publicKeys\.0: must be an Ed25519 public key/],
    ['stable', /^\[updraft\] options must be an object/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveOptions(options, project(null))).toThrow(message);
  });
});

test.each([
  ['my-app', 'my-app'],
  ['@scope/pkg', 'scope-pkg'],
  ['--weird name!', 'weird-name-'],
  ['', 'app'],
  [undefined, 'app'],
  ['a'.repeat(80), 'a'.repeat(64)],
])('sanitizeAppName(%j) = %j', (input, expected) => {
  expect(sanitizeAppName(input)).toBe(expected);
});
