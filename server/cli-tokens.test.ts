import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from './admin-token.js';
import { fakeDist, writeDist } from './fake-dist.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    delete clean.UPDRAFT_TOKEN;
    delete clean.UPDRAFT_TOKEN_FILE;
    execFile(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: ROOT, env: { ...clean, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Every byte SQLite wrote for the store: the database and its write-ahead log. */
const dbBytes = (data: string) =>
  ['updraft.db', 'updraft.db-wal'].map((f) => join(data, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');

describe('updraft tokens + serve --token-file (child processes, real port)', () => {
  let dir: string;
  let data: string;
  let child: ChildProcess;
  let url: string;
  let publisher: string;
  let operator: { token: string; id: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-cli-tokens-'));
    data = join(dir, 'data');
    // Tokens made before the server starts, straight in its store.
    const a = await cli(['tokens', 'create', '--scope', 'publish', '--name', 'ci', '--data', data]);
    expect(a.code, a.stderr).toBe(0);
    publisher = a.stdout.trim();
    // The first one makes the store, and says where (a mistyped --data shows here).
    expect(a.stderr).toMatch(new RegExp(`^updraft: note: created a new store at ${join(data, 'updraft.db')}\\ntoken [0-9a-f]{16} \\(publish, ci\\): shown once, only its SHA-256 is stored\\n$`));
    const b = await cli(['tokens', 'create', '--scope', 'rollout,read', '--data', data, '--json']);
    expect(b.stderr).toBe('');
    operator = JSON.parse(b.stdout) as { token: string; id: string };
    writeFileSync(join(dir, 'tokens.txt'), '# read-only dashboards\nread file-reader-token\n');
    child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', data, '--token-file', join(dir, 'tokens.txt')], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, UPDRAFT_TOKEN: '' },
    });
    url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const d = await fakeDist({ 'index.html': '<h1>t</h1>', 'assets/t.js': 't()' }, { app: 'tok' });
    await writeDist(join(dir, 'dist'), d);
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores only the SHA-256: the raw tokens never appear in the database files', () => {
    const bytes = dbBytes(data);
    expect(bytes.length).toBeGreaterThan(0);
    for (const token of [publisher, operator.token]) {
      expect(bytes).not.toContain(token);
      expect(bytes).not.toContain(token.slice(-43)); // nor its secret part alone
      expect(bytes).toContain(hashToken(token));
    }
  });

  it('each CLI command works with a token of its scope and fails with forbidden otherwise', async () => {
    const env = (token: string) => ({ UPDRAFT_SERVER: url, UPDRAFT_TOKEN: token });
    const pub = await cli(['publish', join(dir, 'dist'), '--json'], env(publisher));
    expect(pub.code, pub.stderr).toBe(0);
    const { id } = JSON.parse(pub.stdout) as { id: string };
    // --channel also changes the channel, which is the rollout scope's: the release goes in, the
    // channel change is refused, and the error says both.
    const d2 = await fakeDist({ 'index.html': '<h1>t2</h1>' }, { app: 'tok', version: '2.0.0' });
    await writeDist(join(dir, 'dist2'), d2);
    const withChannel = await cli(['publish', join(dir, 'dist2'), '--channel', 'stable'], env(publisher));
    expect(withChannel.code).toBe(1);
    expect(withChannel.stderr).toBe(`updraft: forbidden: release ${d2.manifest.id} published, but channel stable was not changed: this token lacks the rollout scope\n`);
    expect((await cli(['publish', join(dir, 'dist2')], env(publisher))).stdout).toContain(`published ${d2.manifest.id} (tok 2.0.0 #2), already published`);
    expect((await cli(['rollout', 'stable', '--release', id, '--app', 'tok'], env(operator.token))).code).toBe(0);
    expect((await cli(['rollout', 'stable', '--pause'], env(publisher))).stderr).toMatch(/^updraft: forbidden: .*rollout scope/);
    expect((await cli(['status'], env(publisher))).stderr).toMatch(/^updraft: forbidden: .*read scope/);
    const status = await cli(['status', '--json'], env('file-reader-token'));
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).channels).toMatchObject([{ app: 'tok', name: 'stable', release: id }]);
    expect((await cli(['rollout', 'stable', '--percent', '10'], env('file-reader-token'))).stderr).toMatch(/^updraft: forbidden: /);
    expect((await cli(['status'], env('updraft_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'))).stderr).toMatch(/^updraft: unauthorized: /);
  });

  it('tokens made and revoked while the server runs count at once; list shows ids and scopes, never tokens or hashes', async () => {
    const made = await cli(['tokens', 'create', '--scope', 'read', '--data', data, '--json', '--name', 'temp']);
    const temp = JSON.parse(made.stdout) as { token: string; id: string };
    const env = { UPDRAFT_SERVER: url, UPDRAFT_TOKEN: temp.token };
    expect((await cli(['status'], env)).code).toBe(0);
    const list = await cli(['tokens', 'list', '--data', data, '--json']);
    const tokens = JSON.parse(list.stdout) as { id: string; scopes: string[]; name: string | null }[];
    expect(tokens.map((t) => [t.scopes, t.name])).toEqual([[['publish'], 'ci'], [['rollout', 'read'], null], [['read'], 'temp']]);
    expect(list.stdout).not.toContain(temp.token);
    expect(list.stdout).not.toContain(hashToken(temp.token));
    expect(tokens.every((t) => Object.keys(t).sort().join() === 'createdAt,id,name,scopes' && Number.isInteger((t as { createdAt?: unknown }).createdAt))).toBe(true);
    expect((await cli(['tokens', 'list', '--data', data])).stdout).toMatch(new RegExp(`^${temp.id}  read  \\S+  temp$`, 'm'));
    // --quiet keeps a created token on stdout (shown only then), and nothing else.
    const quiet = await cli(['tokens', 'create', '--scope', 'read', '--data', data, '-q']);
    expect([quiet.code, quiet.stderr]).toEqual([0, '']);
    expect(quiet.stdout).toMatch(/^updraft_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    expect((await cli(['tokens', 'revoke', quiet.stdout.split('_')[1]!, '--data', data, '-q'])).stdout).toBe('');
    expect((await cli(['tokens', 'revoke', temp.id, '--data', data])).stdout).toBe(`revoked ${temp.id}\n`);
    expect((await cli(['status'], env)).stderr).toMatch(/^updraft: unauthorized: /);
    expect((await cli(['tokens', 'revoke', temp.id, '--data', data])).stderr).toBe(`updraft: not_found: no token ${temp.id}\n`);
  });

  it.each([
    [['tokens', 'create'], /^updraft: usage: tokens create needs --scope/],
    [['tokens', 'create', '--scope', 'admin'], /^updraft: usage: --scope: unknown scope "admin"/],
    [['tokens', 'list', '--scope', 'read'], /^updraft: usage: --scope and --name go with tokens create/],
    [['tokens', 'revoke'], /^updraft: usage: tokens revoke takes exactly one <id>/],
    [['tokens', 'rotate'], /^updraft: usage: tokens takes create, list or revoke/],
  ])('%j fails with one usage line', async (args, pattern) => {
    const res = await cli([...args, '--data', join(dir, 'unused')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(pattern);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('tokens list and revoke on a --data with no store (a typo) fail with io naming the path, and create nothing there', async () => {
    const typo = join(dir, 'dta');
    for (const args of [['list'], ['revoke', '0123456789abcdef']]) {
      const res = await cli(['tokens', ...args, '--data', typo]);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`updraft: io: no store at ${join(typo, 'updraft.db')} (check --data; updraft serve or tokens create makes one)\n`);
    }
    expect(existsSync(typo)).toBe(false);
  });

  it('tokens and keys refuse --server and --token (they work on local files): a create aimed at a remote server makes no local store, no key files', async () => {
    const local = join(dir, 'remote-typo');
    const cases: [string[], string][] = [
      [['tokens', 'create', '--scope', 'read', '--data', local, '--server', url], 'tokens create works on the store directly (--data, or --db), not through a server: --server does not apply'],
      [['tokens', 'list', '--data', data, '--token', 'x'], 'tokens list works on the store directly (--data, or --db), not through a server: --token does not apply'],
      [['keys', 'generate', '--out', join(local, 'k'), '--server', url], 'keys generate works on local files, not through a server: --server does not apply'],
    ];
    for (const [args, message] of cases) {
      const res = await cli(args);
      expect([res.code, res.stdout, res.stderr], args.join(' ')).toEqual([1, '', `updraft: usage: ${message}\n`]);
    }
    expect(existsSync(local)).toBe(false);
  });

  it('tokens create --name with a line break or an escape sequence is a usage error, and no token is made', async () => {
    const fresh = join(dir, 'names');
    for (const name of ['ops\nfake-id  all', 'red\x1b[31m', '']) {
      const res = await cli(['tokens', 'create', '--scope', 'read', '--name', name, '--data', fresh]);
      expect(res.code, JSON.stringify(name)).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe('updraft: usage: --name must be one line without control characters\n');
    }
    expect(existsSync(fresh)).toBe(false);
  });

  it('serve started with no admin token at all says so on stderr (nothing can be published), and not once the store has a token', async () => {
    const fresh = join(dir, 'no-token-data');
    const start = async () => {
      const clean = { ...process.env };
      delete clean.UPDRAFT_TOKEN;
      delete clean.UPDRAFT_TOKEN_FILE;
      const serve = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', fresh], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: clean });
      let err = '';
      serve.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const at = await new Promise<string>((resolve) => serve.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      // The unsigned-plans warning comes first; the token one, when due, right after it.
      await expect.poll(() => err).toMatch(/plans are not signed.*\n/);
      return { serve, at, err: () => err };
    };
    const stop = async (serve: ChildProcess) => {
      serve.kill('SIGTERM');
      await new Promise((resolve) => serve.once('exit', resolve));
    };
    const first = await start();
    try {
      await expect.poll(first.err).toContain('updraft: warning: no admin token (--token, UPDRAFT_TOKEN, --token-file, or `updraft tokens create` on this store): the admin API refuses every request, so nothing can be published yet.\n');
      const refused = await cli(['status', '--server', first.at], { UPDRAFT_TOKEN: 'guess' });
      expect([refused.code, refused.stderr]).toEqual([1, 'updraft: unauthorized: unknown or revoked bearer token\n']);
    } finally {
      await stop(first.serve);
    }
    expect((await cli(['tokens', 'create', '--scope', 'read', '--data', fresh])).code).toBe(0);
    const second = await start();
    try {
      // Both warnings are written before the first status answers: an admin request proves serve is past them.
      expect((await cli(['status', '--server', second.at], { UPDRAFT_TOKEN: 'guess' })).code).toBe(1);
      expect(second.err()).not.toContain('no admin token');
    } finally {
      await stop(second.serve);
    }
  });

  it('serve refuses a bad token file instead of starting without its tokens', async () => {
    writeFileSync(join(dir, 'bad.txt'), 'read ok-token\nsuperuser nope\n');
    const bad = await cli(['serve', '--port', '0', '--data', join(dir, 'bad-data'), '--token-file', join(dir, 'bad.txt')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^updraft: usage: token file .*bad\.txt: line 2: unknown scope "superuser"/);
    const missing = await cli(['serve', '--port', '0', '--data', join(dir, 'bad-data')], { UPDRAFT_TOKEN_FILE: join(dir, 'nope.txt') });
    expect(missing.stderr).toMatch(/^updraft: io: cannot read token file /);
  });
});
