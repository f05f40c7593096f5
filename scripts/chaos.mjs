#!/usr/bin/env node
// `npm run chaos -- --runs 200 [--seed N] [--workers N]`: the chaos spec with many runs. Without
// --seed a random base seed is picked and printed; run i uses seed + i, so a failing run replays
// with `npm run chaos -- --runs 1 --seed <its seed>`. Playwright output goes to a private dir so it
// does not collide with other Playwright runs on the machine.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '2' },
    output: { type: 'string', default: 'test-results/chaos' },
  },
});
const seed = values.seed ?? String(Math.floor(Math.random() * 1_000_000) * 1000);
console.log(`chaos: ${values.runs} runs from seed ${seed} (replay one: npm run chaos -- --runs 1 --seed <seed>)`);
const json = process.env.UPDRAFT_E2E_JSON ?? 'reports/chaos.json';
const result = spawnSync(
  'npx',
  ['playwright', 'test', 'e2e/chaos.spec.ts', '--workers', values.workers, '--output', values.output],
  { stdio: 'inherit', env: { ...process.env, UPDRAFT_CHAOS_RUNS: values.runs, UPDRAFT_CHAOS_SEED: seed, UPDRAFT_E2E_JSON: json } },
);
summarize();
process.exit(result.status ?? 1);

/** The figure: runs, failures by seed, and the worst recovery time and per-part request count seen. */
function summarize() {
  let report;
  try {
    report = JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    return;
  }
  const runs = [];
  const visit = (suite) => {
    for (const spec of suite.specs ?? []) for (const t of spec.tests) for (const r of t.results) runs.push({ title: spec.title, status: r.status, out: (r.stdout ?? []).map((o) => o.text ?? '').join('') });
    for (const s of suite.suites ?? []) visit(s);
  };
  for (const s of report.suites ?? []) visit(s);
  const failed = runs.filter((r) => r.status !== 'passed');
  const num = (re) => runs.map((r) => Number(re.exec(r.out)?.[1] ?? NaN)).filter((n) => !Number.isNaN(n));
  const recovery = num(/recovered in (\d+) ms/);
  const perPart = num(/max (\d+) requests per part/);
  const v3 = runs.filter((r) => /target 3\.0\.0/.test(r.out)).length;
  console.log(`chaos figure: ${runs.length} runs, ${runs.length - failed.length} passed, ${failed.length} failed` +
    `${failed.length ? ` (${failed.map((r) => r.title.replace(/^chaos run /, '')).join(', ')})` : ''}; ${v3} ended on 3.0.0;` +
    ` recovery max ${Math.max(0, ...recovery)} ms; max requests per part at one server ${Math.max(0, ...perPart)}`);
}
