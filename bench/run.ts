// `npm run bench`: every benchmark, one after the other (each prints its closing ratio line).
import { spawnSync } from 'node:child_process';

// The browser benchmarks after the server ones: each launches Chromium and real servers of its own.
const benches = ['bench/check-in.ts', 'bench/publish.ts', 'bench/activation.ts', 'bench/cached-load.ts', 'bench/delta-apply.ts'];
let failed = 0;
for (const b of benches) {
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
