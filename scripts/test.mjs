#!/usr/bin/env node
// `npm test`: every test, with what it needs. Gets a Chromium when none is present (Debian's
// package where apt-get can run, Playwright's own browser elsewhere), runs Vitest and Playwright
// with JSON reports (after `npm run typecheck`), and ends with the one line CI reads:
// `tests: N passed, N failed`. Unless UPDRAFT_PG_URL names one, starts a throwaway PostgreSQL for
// the unit tests (scripts/postgres.mjs) and stops it at the end; the PostgreSQL tests then must
// run (UPDRAFT_PG_REQUIRED=1): a failed setup fails them instead of skipping them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { startPostgres } from './postgres.mjs';

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

/** Sets UPDRAFT_PG_URL (or UPDRAFT_PG_ERROR) for the tests; returns what stops the server, if we started one. */
async function ensurePostgres() {
  const env = process.env;
  if (env.CI && env.CI !== 'false' && env.CI !== '0') env.UPDRAFT_PG_REQUIRED = '1';
  if (env.UPDRAFT_PG_URL) return () => {};
  // Attempted here, so the tests must not skip; an explicit UPDRAFT_PG_REQUIRED=0 outside CI opts out.
  env.UPDRAFT_PG_REQUIRED ??= '1';
  try {
    const pg = await startPostgres({ log: (line) => console.log(`npm test: ${line}`) });
    env.UPDRAFT_PG_URL = pg.url;
    console.log(`npm test: throwaway PostgreSQL at ${pg.url}`);
    return pg.stop;
  } catch (err) {
    env.UPDRAFT_PG_ERROR = `npm test could not start PostgreSQL: ${err.message}`;
    console.log(env.UPDRAFT_PG_ERROR);
    return () => {};
  }
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
const stopPostgres = only !== 'e2e' ? await ensurePostgres() : () => {};
// Also on Ctrl-C: the cluster is a temp dir and a server process that would outlive us.
process.once('exit', stopPostgres);
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
if (!only) {
  // Vitest and Playwright strip types without checking them: a type error in a test file would
  // pass unseen. It counts as a failure outside any test (below).
  const typecheck = run('npm', ['run', '--silent', 'typecheck']);
  if (typecheck !== 0) console.log('npm test: typecheck failed (npm run typecheck)');
  codes.push(typecheck);
}
if (only !== 'e2e') {
  codes.push(run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=reports/unit.json']));
  stopPostgres();
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
