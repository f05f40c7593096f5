#!/usr/bin/env node
// `npm test`: every test, with what it needs. Gets a Chromium when none is present (Debian's
// package where apt-get can run, Playwright's own browser elsewhere), runs Vitest and Playwright
// with JSON reports, and ends with the one line CI reads: `tests: N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts }).status ?? 1;

function ensureChromium() {
  if (process.env.UPDRAFT_CHROMIUM || SYSTEM_CHROMIUMS.some((p) => existsSync(p))) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (hasApt) {
    const sudo = isRoot ? [] : ['sudo', '-n'];
    console.log('npm test: no Chromium found; installing Debian\'s chromium');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (...a) => run(sudo[0] ?? 'apt-get', sudo.length ? [...sudo.slice(1), 'apt-get', ...a] : a, { env });
    if (apt('install', '-y', 'chromium') !== 0) {
      apt('update');
      apt('install', '-y', 'chromium');
    }
    if (SYSTEM_CHROMIUMS.some((p) => existsSync(p))) return;
  }
  console.log('npm test: installing Playwright\'s Chromium');
  run('npx', ['playwright', 'install', 'chromium']);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

rmSync('reports', { recursive: true, force: true });
mkdirSync('reports', { recursive: true });
ensureChromium();

const only = process.argv[2]; // `npm test -- unit` or `npm test -- e2e`
const codes = [];
if (only !== 'e2e') {
  codes.push(run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=reports/unit.json']));
}
if (only !== 'unit') {
  codes.push(run('npx', ['playwright', 'test'], { env: { ...process.env, UPDRAFT_E2E_JSON: 'reports/e2e.json' } }));
}

let passed = 0;
let failed = 0;
if (only !== 'e2e') {
  const unit = readJson('reports/unit.json');
  if (unit) {
    passed += unit.numPassedTests;
    failed += unit.numFailedTests;
  } else failed += 1; // the runner died before writing its report
}
if (only !== 'unit') {
  const e2e = readJson('reports/e2e.json');
  if (e2e) {
    passed += e2e.stats.expected + e2e.stats.flaky;
    failed += e2e.stats.unexpected;
    failed += (e2e.errors ?? []).length; // global setup or config errors
  } else failed += 1;
}
if (failed === 0 && codes.some((c) => c !== 0)) failed += 1; // a runner failed outside any test
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
