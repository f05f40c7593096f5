/**
 * Chaos runs (issue 3 §2): each run mixes faults at seeded random moments, then clears them and
 * checks the invariants: every open page renders one complete release whose every loaded asset
 * matches its hash, no page mixes two releases, the target activates, retries stay bounded.
 * `npm test` runs a few; `npm run chaos -- --runs 200` runs the full figure (scripts/chaos.mjs).
 * Replay one run: `UPDRAFT_CHAOS_SEED=<seed> UPDRAFT_CHAOS_RUNS=1 npx playwright test e2e/chaos.spec.ts`.
 */
import { test, expect } from './kit/index.js';
import { ChaosRun, chaosSettings, RECOVERY_MS } from './support/chaos.js';

const { runs, seed } = chaosSettings(4);

// One browser per worker, a new context per run; the seed and the schedule are the trace.
test.use({ trace: 'off' });

for (let i = 0; i < runs; i++) {
  const runSeed = seed + i;
  test(`chaos run seed ${runSeed}`, async ({ browser }, testInfo) => {
    test.setTimeout(RECOVERY_MS + 60_000);
    const chaos = new ChaosRun(runSeed);
    const report = await chaos.run(browser);
    const summary = `seed ${runSeed}: target ${report.target}, ${report.actions.length} actions, faults met ${JSON.stringify(report.met)}, recovered in ${report.recoveryMs} ms, ${report.verified.length} responses verified (${report.verified.filter((v) => v.endsWith(':sw')).length} from the SW), max ${report.maxPartRequests} requests per part (bound ${report.partBound})`;
    console.log(`chaos ${summary}`);
    await testInfo.attach('chaos-run.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
    expect(report.violations, `${summary}\nreplay: UPDRAFT_CHAOS_SEED=${runSeed} UPDRAFT_CHAOS_RUNS=1\nschedule:\n  ${report.actions.join('\n  ')}`).toEqual([]);
  });
}
