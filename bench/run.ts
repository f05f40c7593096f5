// `npm run bench`: every benchmark, one after the other (each prints its closing ratio line).
import { spawnSync } from 'node:child_process';

const benches = ['bench/check-in.ts'];
let failed = 0;
for (const b of benches) {
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
