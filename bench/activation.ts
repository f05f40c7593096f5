// Activation cost against release size: the same update (the document, the script and 5 images
// change) to a 2,000-asset release and to a 20-asset one, in real Chromium with the plugin-built
// sw.js, against the real server. Each repetition publishes the release the client does not run
// with the `prompt` policy; it is checked in, downloaded and staged; then the page sends
// `updraft:apply` (the `activate` task runs) and times, with its own clock, until the worker's
// `activated` event arrives (the pointer switched) and until the apply reply (GC included).
// Ends with `activation 2000/20=R`.
import { publishDirectory } from '../server/index.js';
import { UpdraftDriver } from '../e2e/kit/driver.js';
import { Harness, TOKEN } from '../e2e/support/harness.js';
import { buildBenchApp, type BenchApp } from './support/bench-app.js';
import { launchChromium, median, spread } from './support/browser.js';

const REPS = Number(process.env.UPDRAFT_BENCH_REPS ?? 15);
const SIZES = [20, 2000] as const;

interface Sized {
  size: number;
  v1: BenchApp;
  v2: BenchApp;
  h: Harness;
  activated: number[];
  replied: number[];
}

// A string, not a function: tsx's transform adds `__name(...)` calls the page does not have.
const TIME_APPLY = `new Promise((resolve, reject) => {
  const sw = navigator.serviceWorker.controller;
  if (!sw) return reject(new Error('page not controlled'));
  let activated = 0;
  let replied = 0;
  const t0 = performance.now();
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === 'updraft:event' && e.data.event?.name === 'activated') {
      activated = performance.now() - t0;
      if (replied) resolve({ activated, replied });
    }
  });
  const channel = new MessageChannel();
  channel.port1.onmessage = (e) => {
    if (!e.data?.ok) return reject(new Error(JSON.stringify(e.data)));
    replied = performance.now() - t0;
    if (activated) resolve({ activated, replied });
  };
  sw.postMessage({ type: 'updraft:apply' }, [channel.port2]);
  setTimeout(() => reject(new Error('no activated event within 30 s')), 30000);
})`;

const sized: Sized[] = [];
for (const size of SIZES) {
  const v1 = await buildBenchApp({ assets: size, version: '1.0.0' });
  const v2 = await buildBenchApp({ assets: size, version: '2.0.0' });
  // Unsigned plans: the bench app's worker trusts no key, and the e2e key (made by e2e's global
  // setup) is not there on a fresh clone, where `npm run bench` must run before any test.
  sized.push({ size, v1, v2, h: await Harness.start({ cdn: false, signingKeys: [] }), activated: [], replied: [] });
}
const browser = await launchChromium();

// One browser context per size for the whole run: the first visit installs 1.0.0, then each round
// publishes the other release with the `prompt` policy (2.0.0, back to 1.0.0, ...), waits until it
// is staged and the worker idle, and times one apply. Round 0 warms up and is not counted.
interface Client {
  s: Sized;
  driver: UpdraftDriver;
  running: BenchApp;
}

async function firstVisit(s: Sized): Promise<Client> {
  await publishDirectory(s.v1.dir, { channel: 'stable', activation: 'next-navigation', server: s.h.url, token: TOKEN });
  const page = await (await browser.newContext()).newPage();
  const driver = new UpdraftDriver(page);
  await page.goto(s.h.url);
  await driver.waitForRelease(s.v1.manifest.id, { timeout: 120_000 });
  return { s, driver, running: s.v1 };
}

async function round(c: Client, counted: boolean): Promise<void> {
  const { s, driver } = c;
  const next = c.running === s.v1 ? s.v2 : s.v1;
  // Back to v1 is a roll back: a publish moves a channel only forward.
  if (next === s.v1) await s.h.rollout({ release: next.manifest.id, activation: 'prompt' });
  else await publishDirectory(next.dir, { channel: 'stable', activation: 'prompt', server: s.h.url, token: TOKEN });
  await driver.checkNow();
  await driver.sync();
  await driver.waitForState((st) => st.staged === next.manifest.id, { timeout: 60_000 }, `${next.manifest.version} staged`);
  // Let the drain that staged it finish (reports, scheduling), so apply starts from an idle worker.
  await driver.waitForState((st) => st.plan?.tasks.every((t) => t.state === 'done' || t.kind === 'activate' || t.id === 'report:activated') ?? false, {}, 'plan idle');
  await driver.page.waitForTimeout(1000);
  const t = (await driver.page.evaluate(TIME_APPLY)) as { activated: number; replied: number };
  const after = await driver.state();
  if (after.active !== next.manifest.id) throw new Error(`after apply the active release is ${after.active}, not ${next.manifest.version}`);
  c.running = next;
  if (!counted) return;
  s.activated.push(t.activated);
  s.replied.push(t.replied);
}

try {
  const clients: Client[] = [];
  for (const s of sized) clients.push(await firstVisit(s));
  for (let r = 0; r <= REPS; r++) for (const c of clients) await round(c, r > 0);
} finally {
  await browser.close();
  for (const s of sized) await s.h.close();
}

for (const s of sized) {
  console.log(`${s.size} assets: activated event ${spread(s.activated)}, apply reply (GC included) ${spread(s.replied)} (median [min–max] of ${REPS})`);
}
const [small, large] = sized as [Sized, Sized];
console.log(`apply-reply ${large.size}/${small.size}=${(median(large.replied) / median(small.replied)).toFixed(2)}`);
// Noise from other work on the machine only adds time: the fastest rounds show the intrinsic cost.
console.log(`fastest-activation ${large.size}/${small.size}=${(Math.min(...large.activated) / Math.min(...small.activated)).toFixed(2)}`);
console.log(`activation ${large.size}/${small.size}=${(median(large.activated) / median(small.activated)).toFixed(2)}`);
