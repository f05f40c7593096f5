import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, expect } from './kit/index.js';

const REPO = resolve(import.meta.dirname, '..');

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** The newcomer's path: `npm start`, open the URL, `npm run demo:release`, watch the update arrive. */
test('npm start serves the demo and npm run demo:release delivers the next version to an open tab', async ({ page, updraft }) => {
  test.setTimeout(120_000);
  const home = mkdtempSync(join(tmpdir(), 'updraft-demo-'));
  const env = { ...process.env, PORT: String(await freePort()), UPDRAFT_DEMO_HOME: home };
  let demo: ChildProcess | null = null;
  try {
    // Its own process group, so the whole tree (npm, tsx, node) is stopped at the end.
    demo = spawn('npm', ['start', '--silent'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const url = await new Promise<string>((done, fail) => {
      let out = '';
      demo!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Updraft demo: (http:\/\/\S+)/.exec(out);
        if (m) done(m[1]!);
      });
      demo!.on('exit', (code) => fail(new Error(`npm start exited with ${code}: ${out}`)));
    });

    await page.goto(url);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await updraft.waitForActivated();

    const release = spawnSync('npm', ['run', '--silent', 'demo:release'], { cwd: REPO, env, encoding: 'utf8' });
    expect(release.status, release.stderr).toBe(0);
    expect(release.stdout).toMatch(/published release [0-9a-f]{16} \(version 1\.1\.0/);

    await page.locator('#check').click();
    await expect(page.locator('#toast')).toHaveAttribute('data-event', /update-available|progress|update-ready|activated/);
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'activated', { timeout: 30_000 });
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await page.reload();
    await expect(page.locator('#version')).toHaveText('1.1.0');
  } finally {
    if (demo?.pid) process.kill(-demo.pid, 'SIGTERM');
    rmSync(home, { recursive: true, force: true });
  }
});
