/**
 * The package as `npm pack` makes it, seen from a consumer's folder: what the tarball holds, and
 * that its entry points load and type-check there with only the dependencies package.json
 * declares. The consumer's node_modules links just `dependencies` and `peerDependencies` from this
 * repo's install (plus `@types/node` and the consumer's own `typescript`), so a package this one
 * needs but does not declare, or types its .d.ts files reference from a devDependency, fail here
 * as they would in a stranger's app. e2e/adoption.spec.ts covers the rest of the journey
 * (create-vite, build, serve, publish, update in Chromium).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface PackageJson {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  engines: { node: string };
  scripts: Record<string, string>;
  files: string[];
}
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as PackageJson;

interface PackedFile {
  path: string;
  mode: number;
}

let dir: string;
let consumer: string;
let files: PackedFile[];
let tarball: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'updraft-package-'));
  // `npm pack` runs `prepack` (the build), so the list is of a fresh dist/, not a stale one.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as [{ filename: string; files: PackedFile[] }];
  files = packed.files;
  tarball = join(dir, packed.filename);

  consumer = join(dir, 'consumer');
  const installed = join(consumer, 'node_modules', pkg.name);
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
  const linked = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), '@types/node', 'typescript'];
  for (const name of linked) {
    const link = join(consumer, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', name), link, 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the build, README and the guides it links, and nothing from development', () => {
    const paths = files.map((f) => f.path);
    const unwanted = paths.filter((p) =>
      /\.test\.|\.map$|\.tsbuildinfo$|(^|\/)\.tmp\/|^(bench|scripts|e2e|sw|server|plugin|app|protocol)\/|^dist\/(bench|scripts|app\/demo)\/|^dist\/e2e\/(?!kit\/)|(^|\/)(testing|store-contract|temp-store|postgres-test-db)\.|\.ts$(?<!\.d\.ts)/.test(p),
    );
    expect(unwanted).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'LICENSE', 'README.md', 'SECURITY.md', 'docs/deploying.md', 'docs/migrating-from-vite-plugin-pwa.md']));
    // Only the prose guides of docs/: its test and the screenshot stay in the repository.
    expect(paths.filter((p) => p.startsWith('docs/') && !p.endsWith('.md'))).toEqual([]);
  });

  it('holds every file exports and bin name, the CLI executable', () => {
    const byPath = new Map(files.map((f) => [f.path, f]));
    const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : [t.types, t.default]));
    expect(targets.map((t) => t.replace(/^\.\//, '')).filter((t) => !byPath.has(t))).toEqual([]);
    for (const bin of Object.values(pkg.bin)) {
      const file = byPath.get(bin.replace(/^\.\//, ''));
      expect(file, bin).toBeDefined();
      expect(file!.mode & 0o111, `${bin} is not executable`).not.toBe(0);
      expect(readFileSync(join(consumer, 'node_modules', pkg.name, bin), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    }
  });

  it('runs no script when installed', () => {
    // npm (11) lists a package with any of these, `prepare` included, under "install scripts not
    // yet covered by allowScripts" when it is installed; the build belongs in `prepack`.
    expect(Object.keys(pkg.scripts).filter((s) => /^(preinstall|install|postinstall|prepare)$/.test(s))).toEqual([]);
    expect(pkg.scripts.prepack).toBeDefined();
  });
});

describe('the packed package in a consumer', () => {
  it('loads every Node entry point with only its declared dependencies', async () => {
    // updraft/client and updraft/sw are browser modules (workbox-window's Node entry is UMD,
    // workbox-core reads `self` as it loads): resolved only; the build and Chromium load them.
    const script = `
      const keys = async (s) => Object.keys(await import(s)).length;
      console.log(JSON.stringify({
        vite: await keys('updraft/vite'), server: await keys('updraft/server'), protocol: await keys('updraft/protocol'),
        playwright: await keys('updraft/playwright'),
        client: import.meta.resolve('updraft/client').endsWith('/dist/app/index.js'),
        sw: import.meta.resolve('updraft/sw').endsWith('/dist/sw/index.js'),
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
    const loaded = JSON.parse(stdout) as Record<string, number | boolean>;
    expect([loaded.client, loaded.sw]).toEqual([true, true]);
    for (const entry of ['vite', 'server', 'protocol', 'playwright']) expect(loaded[entry], entry).toBeGreaterThan(2);
  });

  it('serves without a build tool or a test runner: every peer is optional, and the server, the protocol and the CLI load without them', async () => {
    // A server-only install (a deploy image, a CI publish step) must not pull in Vite or
    // Playwright: npm installs required peers itself. Each peer serves one opt-in entry
    // (updraft/vite, updraft/playwright), whose users have it anyway.
    const required = Object.keys(pkg.peerDependencies).filter((name) => !pkg.peerDependenciesMeta?.[name]?.optional);
    expect(required).toEqual([]);
    const lean = join(dir, 'lean');
    const installed = join(lean, 'node_modules', pkg.name);
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    for (const name of Object.keys(pkg.dependencies)) {
      const link = join(lean, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(join(REPO, 'node_modules', name), link, 'dir');
    }
    writeFileSync(join(lean, 'package.json'), JSON.stringify({ name: 'lean', private: true, type: 'module' }));
    const script = `console.log(Object.keys(await import('updraft/server')).length, Object.keys(await import('updraft/protocol')).length)`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: lean });
    const [server, protocol] = stdout.trim().split(' ').map(Number);
    expect(server).toBeGreaterThan(2);
    expect(protocol).toBeGreaterThan(2);
    const version = await run(process.execPath, [join(installed, pkg.bin.updraft!), '--version'], { cwd: lean });
    expect(version.stdout).toMatch(/^updraft /);
  });

  it('runs its bin: updraft --version from the installed package', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const bin = join(consumer, 'node_modules', pkg.name, pkg.bin.updraft!);
    const { stdout } = await run(process.execPath, [bin, '--version'], { cwd: consumer });
    expect(stdout).toBe(`updraft ${version}\n`);
  });

  // A page's, a Node script's and a service worker's view, each without skipLibCheck, so every
  // .d.ts the package ships is checked, with the resolutions Vite's templates (bundler) and Node
  // projects (nodenext) use.
  const APP = `
    import updraftDefault, { updraft, resolveOptions, type UpdraftOptions } from 'updraft/vite';
    import { registerUpdraft, UpdraftError, type Updraft } from 'updraft/client';
    import { startServer, openSqliteStore, openPostgresStore, PostgresSlotLedger, type UpdateServerOptions } from 'updraft/server';
    import { test, expect, UpdraftDriver, chromiumLaunchOptions, type TestServer } from 'updraft/playwright';
    import { PATHS, type SwConfig } from 'updraft/protocol';
    const options: UpdraftOptions = { app: 'consumer', concurrency: 2 };
    const page: Updraft = registerUpdraft({ swUrl: '/sw.js' });
    export const used = [updraftDefault, updraft(options), resolveOptions, page, UpdraftError, startServer, openSqliteStore,
      openPostgresStore, PostgresSlotLedger, test, expect, UpdraftDriver, chromiumLaunchOptions(), PATHS];
    export type Used = [UpdateServerOptions, TestServer, SwConfig];
  `;
  const WORKER = `
    import { startUpdraft, type Runtime } from 'updraft/sw';
    declare const self: ServiceWorkerGlobalScope;
    const runtime: Runtime = startUpdraft({ concurrency: 2 });
    self.addEventListener('push', (event) => event.waitUntil(runtime.checkInNow()));
  `;
  // A strict app's use of the page client (its options from an env lookup, every reply narrowed),
  // under the flags strict templates turn on beyond \`strict\`.
  const STRICT_PAGE = `
    import { registerUpdraft, UpdraftError, type Updraft, type PendingUpdate, type CheckNowReply, type ActivationPolicy,
      type UpdraftEventHandler, type UpdraftEventOf } from 'updraft/client';
    const env: Record<string, string | undefined> = {};
    const updraft: Updraft = registerUpdraft({ swUrl: env['SW_URL'], scope: env['SCOPE'], onActivatedImmediate: undefined });
    const off = updraft.on('update-ready', (e) => { const policy: 'prompt' | 'next-navigation' | 'immediate' = e.policy; return policy; });
    off();
    updraft.on('failed', (e) => { const release: string | null = e.release; return release; });
    // A toast of the app's own, typed from the event payloads the page client exports.
    const label = (policy: ActivationPolicy): string => (policy === 'prompt' ? 'Restart to update' : 'Updated on next visit');
    const onProgress: UpdraftEventHandler<'progress'> = (e) => { const share: number = e.bytesDone / e.bytesTotal; return share; };
    const onReady = (e: UpdraftEventOf<'update-ready'>): string => label(e.policy);
    updraft.on('progress', onProgress);
    updraft.on('update-ready', onReady);
    const pending: PendingUpdate | null = updraft.pending;
    export const version: string | undefined = pending?.version;
    export async function main(): Promise<string> {
      const reply: CheckNowReply = await updraft.checkNow();
      try {
        await updraft.applyUpdate();
      } catch (e) {
        if (e instanceof UpdraftError && e.code === 'withdrawn') return 'withdrawn';
      }
      updraft.workbox?.addEventListener('waiting', () => {});
      await updraft.controlled;
      const { result } = await updraft.ready();
      switch (reply.result) {
        case 'current': return result;
        case 'update': return reply.release;
        case 'retry': return String(reply.retryAt);
        case 'error': return reply.code;
      }
    }
  `;
  // A strict team's own Playwright files: the config with the kit's option, a spec using the
  // fixtures, `test.use()`, a driver for a second tab and a server of its own, and a fixture built
  // on top of the kit's (`test.extend`), as the README shows them.
  const STRICT_CONFIG = `
    import { defineConfig } from '@playwright/test';
    import { chromiumLaunchOptions, type UpdraftTestOptions } from 'updraft/playwright';
    export default defineConfig<UpdraftTestOptions>({
      fullyParallel: true,
      use: { launchOptions: chromiumLaunchOptions({ headless: true }), trace: 'on', updraftServerOptions: { token: 'ci' } },
    });
  `;
  const STRICT_SPEC = `
    import { readFileSync } from 'node:fs';
    import { test as kit, expect, UpdraftDriver, startTestServer, TASKS_SYNC_TAG, type TestServer, type TestServerOptions, type UpdraftFixtures, type WaitOptions } from 'updraft/playwright';
    import type { SwDebugState } from 'updraft/protocol';
    const test = kit.extend<{ v1: string }>({
      v1: async ({ updraftServer }, use) => { await use((await updraftServer.publish('dist-v1')).id); },
    });
    test.use({ updraftServerOptions: { signingKeys: [readFileSync('updraft-signing.key', 'utf8')] } });
    test('users get v2', async ({ page, context, updraft, updraftServer, v1 }) => {
      await page.goto(updraftServer.url);
      const first: SwDebugState = await updraft.waitForActivated();
      expect(first.active).toBe(v1);
      const v2 = await updraftServer.publish('dist-v2', { channel: 'beta' });
      const wait: WaitOptions = { timeout: 30_000 };
      await updraft.updateTo(v2.id, wait);
      const tab = await context.newPage();
      const second: UpdraftDriver = new UpdraftDriver(tab);
      await second.sync(TASKS_SYNC_TAG);
      const state = await second.waitForState((s) => s.plan === null, {}, 'no plan');
      const last: string | undefined = state.log[0];
      expect(last).toBeDefined();
      const fixtures: Pick<UpdraftFixtures, 'updraft'> = { updraft: second };
      expect(fixtures.updraft.page).toBe(tab);
    });
    test('a server of its own', async () => {
      const options: TestServerOptions = { token: 'mine' };
      const own: TestServer = await startTestServer(options);
      await own.close();
    });
  `;
  it('type-checks a strict team\'s Playwright config and spec against updraft/playwright', async () => {
    const project = join(consumer, 'strict-e2e');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'playwright.config.ts'), STRICT_CONFIG);
    writeFileSync(join(project, 'update.spec.ts'), STRICT_SPEC);
    expect(await typeCheckStrict(project, ['playwright.config.ts', 'update.spec.ts'], { module: 'NodeNext', moduleResolution: 'nodenext', types: ['node'] })).toBe('');
  }, 120_000);

  it('type-checks the page client in an app with exactOptionalPropertyTypes and noUncheckedIndexedAccess', async () => {
    const project = join(consumer, 'strict');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'page.ts'), STRICT_PAGE);
    expect(await typeCheckStrict(project, ['page.ts'], { module: 'ESNext', moduleResolution: 'bundler', types: [] })).toBe('');
  }, 120_000);

  // What a reader copies: the README's Playwright example and the migration guide's custom worker,
  // as written, in the places they go. The worker goes in src/, which create-vite's tsconfig checks
  // with the DOM lib only (its `tsc && vite build` checks it before every build).
  it('type-checks the README\'s Playwright example, as written, under noUnusedLocals', async () => {
    const project = join(consumer, 'readme-e2e');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'update.spec.ts'), snippet('README.md', "import { test, expect } from 'updraft/playwright';"));
    expect(await typeCheckStrict(project, ['update.spec.ts'], { module: 'NodeNext', moduleResolution: 'nodenext', types: ['node'] })).toBe('');
  }, 120_000);

  it('type-checks the migration guide\'s custom swEntry, as written, in a create-vite app\'s src/', async () => {
    const project = join(consumer, 'vite-template');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'src/main.ts'), "import { registerUpdraft } from 'updraft/client';\nregisterUpdraft().ready().catch(() => {});\n");
    writeFileSync(join(project, 'src/sw.ts'), snippet('docs/migrating-from-vite-plugin-pwa.md', '// src/sw.ts, with updraft({ swEntry: '));
    // create-vite 9.3's vanilla-ts tsconfig.json, plus `strict`. Its `skipLibCheck` is what lets the
    // DOM and WebWorker libraries meet in one program (the guide says what to do without it).
    const compilerOptions = {
      target: 'es2023', module: 'esnext', lib: ['ES2023', 'DOM'], types: ['vite/client'], allowArbitraryExtensions: true, skipLibCheck: true,
      moduleResolution: 'bundler', allowImportingTsExtensions: true, verbatimModuleSyntax: true, moduleDetection: 'force', noEmit: true,
      noUnusedLocals: true, noUnusedParameters: true, erasableSyntaxOnly: true, noFallthroughCasesInSwitch: true, strict: true,
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['src'] }));
    const tsc = join(consumer, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(() => '', (err: { stdout: string }) => err.stdout);
    expect(result).toBe('');
  }, 120_000);

  /** The fenced code block of `file` (in this repo) whose first line starts with `first`, dedented. */
  function snippet(file: string, first: string): string {
    const text = readFileSync(join(REPO, file), 'utf8');
    const at = text.indexOf(first);
    if (at < 0) throw new Error(`${file} has no code block starting with ${first}`);
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const indent = text.slice(lineStart, at);
    const end = text.indexOf('```', at);
    return text.slice(lineStart, end).split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())).join('\n');
  }

  /** tsc's complaints (empty when none) about `files` in `project`, under the strictest options a team turns on. */
  async function typeCheckStrict(project: string, files: string[], resolution: { module: string; moduleResolution: string; types: string[] }): Promise<string> {
    const compilerOptions = {
      target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, ...resolution, noUnusedLocals: true, noUnusedParameters: true,
      exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noImplicitOverride: true, noImplicitReturns: true,
      noPropertyAccessFromIndexSignature: true, verbatimModuleSyntax: true, lib: ['ESNext', 'DOM', 'DOM.Iterable'],
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
    const tsc = join(consumer, 'node_modules/typescript/bin/tsc');
    return run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    );
  }

  const cases = [
    { resolution: 'bundler', module: 'ESNext' },
    { resolution: 'nodenext', module: 'NodeNext' },
  ];
  for (const { resolution, module } of cases) {
    it(`type-checks every entry point under moduleResolution ${resolution}`, async () => {
      const base = { target: 'ES2022', module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: false };
      const project = join(consumer, resolution);
      mkdirSync(project, { recursive: true });
      writeFileSync(join(project, 'app.ts'), APP);
      writeFileSync(join(project, 'sw.ts'), WORKER);
      writeFileSync(join(project, 'tsconfig.app.json'), JSON.stringify({ compilerOptions: { ...base, lib: ['ESNext', 'DOM', 'DOM.Iterable'], types: ['node'] }, files: ['app.ts'] }));
      writeFileSync(join(project, 'tsconfig.sw.json'), JSON.stringify({ compilerOptions: { ...base, lib: ['ESNext', 'WebWorker'], types: [] }, files: ['sw.ts'] }));
      const tsc = join(consumer, 'node_modules/typescript/bin/tsc');
      expect(existsSync(tsc)).toBe(true);
      for (const config of ['tsconfig.app.json', 'tsconfig.sw.json']) {
        const result = await run(process.execPath, [tsc, '-p', config], { cwd: project }).then(
          () => '',
          (err: { stdout: string }) => err.stdout,
        );
        expect(result, `tsc -p ${config}`).toBe('');
      }
    }, 120_000);
  }
});
