/**
 * A real Vite app not written for this project, built the way the byte benchmarks need it:
 * scaffolded with create-vite (template vanilla-ts, as e2e/adoption.spec.ts does), given a lazily
 * loaded route and one small npm dependency (dayjs), then built for each system (Updraft's plugin,
 * vite-plugin-pwa `generateSW`) in three variants:
 * - `base`: as scaffolded plus the route and dayjs@DAYJS_OLD;
 * - `one-module`: one line changed in `src/counter.ts`;
 * - `dep-bump`: `base` with dayjs@DAYJS_NEW.
 * Builds go to `.tmp/bench/builds/<system>-<variant>`; the scaffold is reused across runs.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type PluginOption } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { updraft } from '../plugin/index.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_DIR = join(REPO, '.tmp/bench');
const APP = join(BENCH_DIR, 'app');
export const DAYJS_OLD = '1.10.8';
export const DAYJS_NEW = '1.11.13';

export type System = 'updraft' | 'workbox';
export type Variant = 'base' | 'one-module' | 'dep-bump';
export const VARIANTS: Variant[] = ['base', 'one-module', 'dep-bump'];

export const buildDir = (system: System, variant: Variant) => join(BENCH_DIR, 'builds', `${system}-${variant}`);

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } }, (err, stdout, stderr) =>
      err ? rej(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`)) : res(stdout));
  });
}

// The lazily loaded route and the dayjs use, added to the scaffold as an app developer would.
const ROUTE = `// A lazily loaded route: its own chunk, fetched when the page navigates to #/about.
export function render(root: HTMLElement) {
  const items = ['Routing', 'Offline', 'Updates', 'Deltas', 'Caching', 'Workers']
  root.innerHTML = '<h2>About</h2><ul>' + items.map((i, n) => '<li data-n="' + n + '">' + i + ' — section ' + (n + 1) + '</li>').join('') + '</ul>'
}
`;
const EXTRA = `import dayjs from 'dayjs'

const stamp = document.createElement('p')
stamp.id = 'stamp'
stamp.textContent = 'Built ' + dayjs('2026-01-02T03:04:05Z').format('YYYY-MM-DD') + ', now ' + dayjs().format('dddd HH:mm')
document.body.append(stamp)

const route = document.createElement('div')
document.body.append(route)
async function show() {
  if (location.hash === '#/about') (await import('./route-about.ts')).render(route)
  else route.textContent = ''
}
window.addEventListener('hashchange', show)
void show()
`;

/** Scaffolds the app once (create-vite), with the route and dayjs added. */
export async function scaffold(): Promise<void> {
  if (existsSync(join(APP, 'src/route-about.ts'))) return;
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(BENCH_DIR, { recursive: true });
  await run('npm', ['create', '--yes', 'vite@latest', 'app', '--', '--template', 'vanilla-ts', '--no-interactive', '--no-immediate'], BENCH_DIR);
  writeFileSync(join(APP, 'src/route-about.ts'), ROUTE);
  writeFileSync(join(APP, 'src/extra.ts'), EXTRA);
  const main = join(APP, 'src/main.ts');
  writeFileSync(main, `${readFileSync(main, 'utf8')}\nimport './extra.ts'\n`);
}

async function setDayjs(version: string): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(APP, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  if (pkg.dependencies?.dayjs === version && existsSync(join(APP, 'node_modules/dayjs'))) return;
  // Only dayjs: the build runs with this repository's Vite and plugins, so the template's devDependencies are not needed.
  await run('npm', ['install', '--omit=dev', '--save-exact', '--prefer-offline', `dayjs@${version}`], APP);
}

function plugins(system: System): PluginOption[] {
  if (system === 'updraft') return [updraft({ app: 'bench', channel: 'stable' })];
  // vite-plugin-pwa as its docs start: generateSW, the registration script injected into index.html.
  return [VitePWA({ strategies: 'generateSW', injectRegister: 'script', registerType: 'prompt', manifest: false })];
}

const REGISTER = `\nimport { registerUpdraft } from 'updraft/client'\nregisterUpdraft()\n`;

/** Builds one system's variant from the scaffold (a copy of it, so systems never see each other's edits). */
async function buildOne(system: System, variant: Variant): Promise<void> {
  const src = join(BENCH_DIR, `src-${system}`);
  rmSync(src, { recursive: true, force: true });
  cpSync(APP, src, { recursive: true });
  if (system === 'updraft') writeFileSync(join(src, 'src/main.ts'), readFileSync(join(src, 'src/main.ts'), 'utf8') + REGISTER);
  if (variant === 'one-module') {
    const counter = join(src, 'src/counter.ts');
    const before = readFileSync(counter, 'utf8');
    const after = before.replace('`Count is ${counter}`', '`Clicked ${counter} times`');
    if (after === before) throw new Error('the create-vite counter.ts changed shape: update bench/vite-app.ts');
    writeFileSync(counter, after);
  }
  await build({
    root: src,
    configFile: false,
    logLevel: 'warn',
    resolve: { alias: { 'updraft/client': resolve(REPO, 'app/index.ts') } },
    build: {
      outDir: buildDir(system, variant),
      emptyOutDir: true,
      // BENCH_SPLIT_CLIENT=1: what-if, Updraft's page client (and workbox-window) in a chunk of its
      // own, so an app change does not re-download it. Not the default measurement.
      ...(system === 'updraft' && process.env.BENCH_SPLIT_CLIENT
        ? { rolldownOptions: { output: { codeSplitting: { groups: [{ name: 'updraft-client', test: (id: string) => id.startsWith(resolve(REPO, 'app')) || id.startsWith(resolve(REPO, 'protocol')) || id.includes('workbox-window') }] } } } }
        : {}),
    },
    plugins: plugins(system),
  });
}

/** Every build, fresh. */
export async function buildAll(): Promise<void> {
  await scaffold();
  for (const dayjs of [DAYJS_OLD, DAYJS_NEW]) {
    await setDayjs(dayjs);
    for (const variant of VARIANTS.filter((v) => (v === 'dep-bump') === (dayjs === DAYJS_NEW))) {
      for (const system of ['updraft', 'workbox'] as const) await buildOne(system, variant);
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildAll();
