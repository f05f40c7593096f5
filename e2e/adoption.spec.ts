/**
 * Adoption as a stranger would do it, from the packed package: scaffold a Vite app with
 * create-vite, `npm install` the tarball of this project, add the plugin and `registerUpdraft()`
 * exactly as the README says, build, `updraft serve`, `updraft publish`, visit, change a file,
 * rebuild, publish, and see the update arrive. Needs only the npm registry (and a C++ toolchain
 * where better-sqlite3 has no prebuilt binary reachable); nothing from this machine's global npm.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test, expect, type Page } from '@playwright/test';
import type { UpdraftDriver } from './kit/driver.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'adoption-admin-token';
const MINUTE = 60_000;

// The README's two snippets, verbatim. If these change, the README changes with them.
const VITE_CONFIG = `import { defineConfig } from 'vite'
import { updraft } from 'updraft/vite'

export default defineConfig({
  plugins: [updraft()],
})
`;
const REGISTER = `import { registerUpdraft } from 'updraft/client'

registerUpdraft()
`;

/**
 * Only what a stranger's shell has: PATH and HOME (npm's cache and ~/.npmrc), proxies, and a
 * registry override. Not the npm_* variables `npm test` sets, nor Playwright's NODE_OPTIONS.
 */
function strangerEnv(): NodeJS.ProcessEnv {
  const keep = /^(PATH|HOME|USERPROFILE|APPDATA|LOCALAPPDATA|SystemRoot|TMPDIR|TEMP|TMP|LANG|(HTTPS?|NO)_PROXY|(https?|no)_proxy|npm_config_(registry|cache|userconfig))$/;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => keep.test(k)));
  return { ...env, CI: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

/** Runs a command to completion; a failure carries the command and the tail of its output. */
function run(cmd: string, args: string[], cwd: string, timeout = 4 * MINUTE): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: strangerEnv(), timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
      reject(new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed (${err.message.split('\n')[0]}):\n${tail}`));
    });
  });
}

let tarball: Promise<string> | null = null;
/** `npm pack` of this project (its `prepack` builds dist/), once per worker. */
function packOnce(root: string): Promise<string> {
  tarball ??= (async () => {
    const dest = join(root, 'pack');
    mkdirSync(dest);
    const out = await run('npm', ['pack', '--pack-destination', dest, '--json'], REPO);
    // `npm pack --json` prints the build's output before the JSON when `prepack` runs.
    const [{ filename }] = JSON.parse(out.slice(out.indexOf('[\n'))) as [{ filename: string }];
    return join(dest, filename);
  })();
  return tarball;
}

/** `npx updraft serve` on a free port; resolves with its URL once it listens. */
function serve(app: string): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  // Its own process group, so stopping it also stops the node process npx started.
  const child = spawn('npx', ['updraft', 'serve', '--port', '0', '--data', '.updraft', '--token', TOKEN], {
    cwd: app, env: strangerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => void (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const url = /^(http:\/\/\S+)$/m.exec(output)?.[1];
      if (url) resolve({ url, child, log: () => output });
    });
    child.once('exit', (code) => reject(new Error(`updraft serve exited with ${code}:\n${output}`)));
  });
}

function stop(child: ChildProcess | undefined): void {
  if (child?.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** The app's own content for version `v`: a statically imported module and a lazily loaded one. */
function writeVersion(app: string, v: string): void {
  writeFileSync(join(app, 'src/version.ts'), `export const version = '${v}'\n`);
  writeFileSync(join(app, 'src/lazy.ts'), `export const lazy = 'lazy ${v}'\n`);
}

/** Shows the version and, on a click, loads the lazy module: plain DOM so it works beside any framework. */
const PROBE = `import { version } from './version.ts'

const shown = document.createElement('p')
shown.id = 'version'
shown.textContent = version
const button = document.createElement('button')
button.id = 'load-lazy'
button.textContent = 'load lazy'
button.onclick = async () => {
  const { lazy } = await import('./lazy.ts')
  button.dataset.loaded = lazy
}
document.body.append(shown, button)
`;

async function publish(app: string, url: string, json = false): Promise<string> {
  const out = await run('npx', ['updraft', 'publish', 'dist', '--server', url, '--token', TOKEN, '--channel', 'stable', ...(json ? ['--json'] : [])], app);
  if (json) return (JSON.parse(out) as { id: string }).id;
  const id = /^published ([0-9a-f]{16}) /.exec(out)?.[1];
  if (!id) throw new Error(`unexpected publish output: ${out}`);
  return id;
}

interface Template {
  name: 'vanilla-ts' | 'react-ts';
  main: string;
  /** Adds the plugin to the template's config the way the README says. */
  configure(app: string): void;
}

const TEMPLATES: Template[] = [
  {
    name: 'vanilla-ts',
    main: 'src/main.ts',
    configure: (app) => writeFileSync(join(app, 'vite.config.ts'), VITE_CONFIG),
  },
  {
    name: 'react-ts',
    main: 'src/main.tsx',
    configure: (app) => {
      const file = join(app, 'vite.config.ts');
      const config = readFileSync(file, 'utf8');
      const updated = config
        .replace(/^(import { defineConfig } from 'vite'\n)/m, `$1import { updraft } from 'updraft/vite'\n`)
        .replace('plugins: [react()]', 'plugins: [react(), updraft()]');
      expect(updated, 'the react-ts template changed shape: update this test and the README').toContain('plugins: [react(), updraft()]');
      expect(updated).toContain(`import { updraft } from 'updraft/vite'`);
      writeFileSync(file, updated);
    },
  },
];

let root: string;
test.beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'updraft-adoption-'));
});
test.afterAll(() => {
  if (root && !process.env.UPDRAFT_KEEP_ADOPTION) rmSync(root, { recursive: true, force: true });
});

// One worker runs both templates in turn, sharing the packed tarball.
test.describe.configure({ mode: 'default' });

for (const template of TEMPLATES) {
  test(`a new ${template.name} app adopts Updraft from the packed package and gets an update`, { tag: '@slow' }, async ({ page }) => {
    test.setTimeout(8 * MINUTE);
    const tgz = await test.step('npm pack', () => packOnce(root));
    const app = join(root, template.name);
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      await test.step('scaffold with create-vite and install the tarball', async () => {
        await run('npm', ['create', '--yes', 'vite@latest', template.name, '--', '--template', template.name, '--no-interactive', '--no-immediate'], root);
        // A stranger writing Playwright tests installs @playwright/test; the kit needs it as a peer.
        const kitPeer = template.name === 'vanilla-ts' ? [`@playwright/test@${playwrightVersion()}`] : [];
        await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz, ...kitPeer], app, 6 * MINUTE);
      });

      await test.step('add the plugin, registerUpdraft() and a lazily loaded module', () => {
        template.configure(app);
        const main = join(app, template.main);
        writeFileSync(main, `${readFileSync(main, 'utf8')}\n${REGISTER}\nimport './probe.ts'\n`);
        writeFileSync(join(app, 'src/probe.ts'), PROBE);
        writeVersion(app, 'v1');
      });

      if (template.name === 'vanilla-ts') {
        await test.step('every entry point of the package loads from the tarball', async () => {
          const out = await run('node', ['--input-type=module', '-e', ENTRY_POINTS_SCRIPT], app);
          expect(JSON.parse(out)).toEqual({
            vite: ['default', 'resolveOptions', 'updraft'],
            client: true,
            server: expect.arrayContaining(['startServer', 'publishDirectory', 'createUpdateServer']),
            playwright: expect.arrayContaining(['test', 'expect', 'UpdraftDriver', 'chromiumLaunchOptions', 'startTestServer']),
            swRuntime: true,
          });
        });
      }

      // `npm run build` is the template's `tsc && vite build`: it also type-checks against our .d.ts.
      await test.step('build v1', () => run('npm', ['run', 'build'], app));
      expect(existsSync(join(app, 'dist/sw.js'))).toBe(true);
      expect(existsSync(join(app, 'dist/updraft-release.json'))).toBe(true);

      server = await test.step('npx updraft serve', () => serve(app));
      const v1 = await test.step('npx updraft publish v1', () => publish(app, server!.url));

      // The driver from the packed `updraft/playwright` (driver.js needs no @playwright/test at runtime).
      const { UpdraftDriver: PackedDriver } = (await import(
        pathToFileURL(join(app, 'node_modules/updraft/dist/e2e/kit/driver.js')).href
      )) as { UpdraftDriver: new (page: Page) => UpdraftDriver };
      const updraft = new PackedDriver(page);

      await test.step('first visit installs v1', async () => {
        await page.goto(server!.url);
        await updraft.waitForRelease(v1, { timeout: 30_000 });
        await expect(page.locator('#version')).toHaveText('v1');
        await page.locator('#load-lazy').click();
        await expect(page.locator('#load-lazy')).toHaveAttribute('data-loaded', 'lazy v1');
      });

      const v2 = await test.step('change a file, rebuild, publish v2', async () => {
        writeVersion(app, 'v2');
        await run('npm', ['run', 'build'], app);
        return publish(app, server!.url, true);
      });
      expect(v2).not.toBe(v1);

      await test.step('the update arrives and the next navigation runs it', async () => {
        expect(await updraft.checkNow()).toEqual({ result: 'update', release: v2 });
        await updraft.sync();
        await updraft.waitForRelease(v2, { timeout: 30_000 });
        await expect(page.locator('#version')).toHaveText('v1');
        await page.reload();
        await expect(page.locator('#version')).toHaveText('v2');
        await page.locator('#load-lazy').click();
        await expect(page.locator('#load-lazy')).toHaveAttribute('data-loaded', 'lazy v2');
      });

      const status = await run('npx', ['updraft', 'status', '--server', server.url, '--token', TOKEN], app);
      // The client's row moves to v2 at its next check-in; the reports about v2 are already in.
      expect(status).toMatch(new RegExp(`^  ${v2} +0\\.0\\.0 #2 +current +\\d+ +\\d+% +1 +1 +0$`, 'm'));
    } catch (err) {
      if (server) (err as Error).message += `\n--- updraft serve output ---\n${server.log().slice(-4000)}`;
      throw err;
    } finally {
      stop(server?.child);
    }
  });
}

function playwrightVersion(): string {
  return (JSON.parse(readFileSync(join(REPO, 'node_modules/@playwright/test/package.json'), 'utf8')) as { version: string }).version;
}

/** Imports each subpath export as a user's code would, from the app folder. */
const ENTRY_POINTS_SCRIPT = `
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
const keys = async (s) => Object.keys(await import(s)).sort()
const sw = fileURLToPath(import.meta.resolve('updraft/sw'))
console.log(JSON.stringify({
  vite: await keys('updraft/vite'),
  // Resolved only: workbox-window's Node entry is a UMD bundle without named exports, so this
  // browser module loads in bundlers and browsers (the page below) but not in plain Node.
  client: existsSync(fileURLToPath(import.meta.resolve('updraft/client'))),
  server: await keys('updraft/server'),
  playwright: await keys('updraft/playwright'),
  swRuntime: existsSync(sw) && sw.endsWith('/dist/sw/index.js'),
}))
`;
