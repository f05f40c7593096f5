import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, joinUrl, type CheckInResponse } from '../protocol/index.js';
import { fakeDist, writeDist } from './fake-dist.js';
import { startServer, type RunningServer } from './node.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'cli-token';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('startServer + updraft CLI (child process)', () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-cli-'));
    server = await startServer({ dataDir: join(dir, 'data'), token: TOKEN });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({ UPDRAFT_SERVER: server.url, UPDRAFT_TOKEN: TOKEN });

  it('publishes a dist, a check-in gets a plan, status shows it, and data survive a restart on the same port', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const d = await fakeDist({ 'index.html': '<h1>cli</h1>', 'assets/app.js': 'run()' }, { app: 'demo', version: '1.2.3', sw: 'sw()' });
    await writeDist(join(dir, 'dist'), d);

    const pub = await cli(['publish', join(dir, 'dist'), '--channel', 'stable', '--json'], env());
    expect(pub.stderr).toBe('');
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ id: d.manifest.id, seq: 1, created: true, parts: 3, uploaded: 3, bytes: 21 });
    const again = await cli(['publish', join(dir, 'dist'), '--server', server.url, '--token', TOKEN], {});
    expect(again.stdout).toMatch(new RegExp(`^published ${d.manifest.id} \\(0 parts, 0 bytes uploaded\\)`));

    const checkIn = await fetch(joinUrl(server.url, PATHS.checkIn), {
      method: 'POST',
      body: JSON.stringify({ client: 'client-cli-0001', app: 'demo', channel: 'stable', release: null, caps: { sync: false, periodicSync: false } }),
    });
    const body = (await checkIn.json()) as CheckInResponse;
    expect(body.status).toBe('update');
    const fetchTask = body.status === 'update' ? body.plan.tasks.find((t) => t.kind === 'fetch') : undefined;
    expect(fetchTask && 'sources' in fetchTask && fetchTask.sources[0]).toMatch(new RegExp(`^${server.url}v1/blobs/`));
    expect((await fetch(server.url)).headers.get('Content-Type')).toMatch(/^text\/html/);

    const status = await cli(['status'], env());
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`demo/stable  →  ${d.manifest.id} (1.2.3 #1)  100%`);
    expect(status.stdout).toMatch(/1 {2}\(none\)/);
    const json = await cli(['status', '--json'], env());
    expect(JSON.parse(json.stdout).clients).toEqual([{ channel: 'stable', release: null, count: 1 }]);

    // "Server down": the port refuses connections, then a restart on the same port has everything.
    const port = server.port;
    await server.close();
    const down = await cli(['status'], env());
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^updraft: unreachable: /);
    server = await startServer({ dataDir: join(dir, 'data'), token: TOKEN, port });
    expect(server.port).toBe(port);
    const back = await cli(['rollout', 'stable', '--release', d.manifest.id, '--percent', '40'], env());
    expect(back.stdout.trim()).toBe(`demo/stable: ${d.manifest.id} at 40% (previous none, activation next-navigation)`);
  });

  it.each([
    [['frobnicate'], /^updraft: usage: unknown command frobnicate/],
    [['status', '--bogus'], /^updraft: usage: Unknown option '--bogus'/],
    [['status', '--token', 'wrong'], /^updraft: unauthorized: /],
    [['publish', '/nonexistent/dist'], /^updraft: io: cannot read /],
    [['rollout', 'stable', '--release', 'ffffffffffffffff'], /^updraft: unknown_release: /],
    [['rollout', 'stable', '--release', 'ffffffffffffffff', '--percent', '200'], /^updraft: usage: --percent/],
  ])('%j fails with one line on stderr', async (args, pattern) => {
    const res = await cli(args, env());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(pattern);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a dist whose bytes do not match its manifest fails with hash_mismatch and publishes nothing', async () => {
    const d = await fakeDist({ 'index.html': '<h1>tampered</h1>' }, { app: 'tampered' });
    await writeDist(join(dir, 'bad'), d);
    writeFileSync(join(dir, 'bad', 'index.html'), 'changed after the build');
    const res = await cli(['publish', join(dir, 'bad'), '--channel', 'stable'], env());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^updraft: hash_mismatch: /);
    expect(await server.store.getRelease(d.manifest.id)).toBeNull();
  });

  it('--help prints usage', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('updraft publish <dist>');
  });
});
