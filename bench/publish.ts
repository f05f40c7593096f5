// Publish latency with deltas on (the default) against `deltas: false` (nothing to compute), the
// same releases published to a fresh server and store each, in the same run. Deltas used to be
// computed inside `POST v1/admin/releases`: 4 rewritten 1 MiB files took 7, 14 and 20 s to publish
// against 1, 2 and 3 earlier releases. They are now queued (server/delta-queue.ts), so the two
// sides should publish alike; a publish that waits for deltas again shows here as a ratio of
// several. Ends with `publish deltas/none=R` (median publish time with deltas ÷ without).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeDist, publishDirectory, startServer, writeDist } from '../server/index.js';

const RELEASES = 4;
const TOKEN = 'bench';
const MiB = 1 << 20;

// Deterministic pseudo-random numbers (an LCG): the same bytes on every run.
const random = (seed: number) => {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
};

// 1 MiB of code-like text in which release `n` changed one line in a hundred: its delta from any
// earlier release is a few KB, a small fraction of the part brotli'd (a delta worth offering).
const words = ['state', 'render', 'props', 'update', 'client', 'release', 'module', 'buffer', 'result', 'index'];
const codeLines = (() => {
  const r = random(1);
  const pick = () => words[Math.floor(r() * words.length)]!;
  return Array.from({ length: 20_000 }, (_, i) => `export const ${pick()}_${i} = ${pick()}(${Math.floor(r() * 1e4)}, "${pick()}_${Math.floor(r() * 1e6)}");`);
})();
const edited = (n: number, file: number) => {
  const r = random(n * 31 + file);
  return codeLines.map((line, i) => (r() < 0.01 ? `export const edited_${n}_${i} = ${Math.floor(r() * 1e9)};` : line)).join('\n').slice(0, MiB);
};
// 1 MiB of indented JSON with every letter shifted by release: rewritten rather than edited (a
// major upgrade of a vendored library), the pair Fossil takes longest on (~1.7 s each,
// server/delta-budget.test.ts), as in the publishes that took 7-20 s.
const json = Array.from({ length: 14_000 }, (_, i) => `    {\n        "name": "item${i}",\n        "value": ${i % 1000},\n        "tags": ["a", "b"]\n    },`).join('\n').slice(0, MiB);
const rewritten = (n: number) => json.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 7 * n) % 26) + 97));

// Vite-style hashed names (8 characters), so each file's predecessor is matched by name.
const hash = (n: number, file: string) => `${file}${n}`.padEnd(8, 'x');
const dir = mkdtempSync(join(tmpdir(), 'updraft-bench-publish-'));
const builds: string[] = [];
/** Part hash → logical file (vendor-a, data, ...): which kinds of pair got a delta. */
const kindOf = new Map<string, string>();
for (let n = 1; n <= RELEASES; n++) {
  const files: Record<string, string> = {
    'index.html': `<!doctype html><title>${n}</title><script type="module" src="/assets/index-${hash(n, 'i')}.js"></script>`,
    [`assets/vendor-a-${hash(n, 'va')}.js`]: edited(n, 0),
    [`assets/vendor-b-${hash(n, 'vb')}.js`]: edited(n, 1),
    [`assets/data-${hash(n, 'da')}.js`]: rewritten(n),
    [`assets/vendor-c-${hash(n, 'vc')}.js`]: edited(n, 2),
    [`assets/index-${hash(n, 'i')}.js`]: `export const version = ${n};\n`.repeat(200),
  };
  for (let i = 0; i < 20; i++) files[`assets/chunk-${i}.js`] = `export const c${i} = ${i};\n`.repeat(100);
  const out = join(dir, `build-${n}`);
  const dist = await fakeDist(files, { app: 'bench', version: `${n}.0.0`, sw: 'self.x = 1;' });
  for (const a of dist.manifest.assets) kindOf.set(a.sha256, a.path.replace(/^assets\//, '').replace(/-[a-z0-9]{8}\.js$/, ''));
  await writeDist(out, dist);
  builds.push(out);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Stored deltas (`deltas/<xx>/<from>-<to>`, compressed copies aside) by the target's logical file. */
const deltaFiles = (root: string) => {
  const names = readdirSync(join(root, 'deltas'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'pending')
    .flatMap((d) => readdirSync(join(root, 'deltas', d.name)))
    .filter((name) => /^[0-9a-f]{64}-[0-9a-f]{64}$/.test(name));
  const byKind = new Map<string, number>();
  for (const name of names) {
    const kind = kindOf.get(name.slice(65)) ?? 'other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return { total: names.length, byKind: [...byKind].sort().map(([k, v]) => `${k} ${v}`).join(', ') };
};

/** Publishes every build in order to a fresh server, timing each `publishDirectory` call. */
async function publishAll(deltas: boolean) {
  const dataDir = join(dir, deltas ? 'server-deltas' : 'server-none');
  const server = await startServer({ dataDir, token: TOKEN, ...(deltas ? {} : { deltas: false }) });
  try {
    const times: number[] = [];
    for (const build of builds) {
      const started = performance.now();
      const result = await publishDirectory(build, { server: server.url, token: TOKEN, channel: 'stable' });
      times.push(performance.now() - started);
      if (!result.channel?.moved) throw new Error(`stable did not move to ${result.id}`);
    }
    const afterLast = performance.now();
    await server.deltas?.idle();
    return { times, background: performance.now() - afterLast, pending: server.deltas?.pending() ?? 0, stored: deltas ? deltaFiles(server.blobs.root) : null };
  } finally {
    await server.close();
  }
}

try {
  const none = await publishAll(false);
  const withDeltas = await publishAll(true);
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
  console.log(`${RELEASES} releases, each 4 changed 1 MiB files (3 edited, 1 rewritten) + 22 small, publishDirectory end to end:`);
  console.log(`deltas: false  ${ms(none.times)} ms, median ${median(none.times).toFixed(0)} ms`);
  console.log(`deltas on      ${ms(withDeltas.times)} ms, median ${median(withDeltas.times).toFixed(0)} ms`);
  console.log(`background deltas: idle ${(withDeltas.background / 1000).toFixed(1)} s after the last publish answered; ${withDeltas.stored!.total} delta(s) stored (${withDeltas.stored!.byKind}), ${withDeltas.pending} pending`);
  if (withDeltas.pending !== 0) throw new Error('the delta queue said idle with pairs pending');
  console.log(`publish deltas/none=${(median(withDeltas.times) / median(none.times)).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
