/**
 * Which delta format: measured on real Vite output, the pairs a client actually updates between.
 * - the create-vite app of bench/vite-app.ts (Updraft builds): base → one-module, base → dep-bump;
 * - the demo PWA built as 1.0.0 and 2.0.0 (what the e2e specs update between).
 * For each changed file (matched by name minus the build hash): the whole file raw and brotli'd
 * (what a client downloads without deltas), a Fossil delta raw and brotli'd (fossil-delta, pure
 * JS), and Zstandard at level 19 with the old file as a raw-content dictionary (@bokuweb/zstd-wasm).
 * Apply time is the median of repeated decodes; decoder size is what each adds to the SW bundle.
 * Ends with `deltas fossil+br/zstd-dict=R (bytes), decoder fossil/zstd=R`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { applyDelta, createDelta } from 'fossil-delta';
import { build } from 'vite';
import { compressUsingDict, createCCtx, createDCtx, decompressUsingDict, init } from '@bokuweb/zstd-wasm';
import { logicalPath } from '../server/delta-match.js';
import { BENCH_DIR, REPO, buildAll, buildDir } from './vite-app.js';

const br = (b: Uint8Array) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength;
const REPEAT = 200;

function files(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|css|html)$/.test(name) && name !== 'sw.js') out.set(logicalPath(relative(dir, p)), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function median(fn: () => void): number {
  const t: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[REPEAT >> 1]!;
}

interface Row { pair: string; file: string; raw: number; rawBr: number; fossil: number; fossilBr: number; zstd: number; fossilUs: number; zstdUs: number }

async function demoBuilds(): Promise<[string, string]> {
  const dirs = ['1.0.0', '2.0.0'].map((v) => join(BENCH_DIR, `demo-${v}`));
  for (const [i, v] of ['1.0.0', '2.0.0'].entries()) {
    Object.assign(process.env, { UPDRAFT_DEMO_VERSION: v, UPDRAFT_DEMO_OUT: dirs[i] });
    await build({ configFile: resolve(REPO, 'vite.config.ts'), logLevel: 'silent' });
  }
  delete process.env.UPDRAFT_DEMO_VERSION;
  delete process.env.UPDRAFT_DEMO_OUT;
  return dirs as [string, string];
}

/** Minified bytes (and brotli'd) a decoder adds to a bundle: the entry below, built by Vite. */
async function bundleSize(entry: string): Promise<{ js: number; jsBr: number }> {
  const out = await build({
    logLevel: 'silent', configFile: false, root: REPO,
    build: { write: false, minify: true, lib: { entry, formats: ['es'], fileName: 'x' }, rollupOptions: { external: [] } },
  });
  const outputs = (Array.isArray(out) ? out : [out]) as { output: { type: string; code?: string }[] }[];
  const code = outputs.flatMap((o) => o.output).filter((c) => c.type === 'chunk').map((c) => c.code ?? '').join('');
  const bytes = new TextEncoder().encode(code);
  return { js: bytes.byteLength, jsBr: br(bytes) };
}

await init();
await buildAll();
const [demo1, demo2] = await demoBuilds();
const pairs: [string, string, string][] = [
  ['create-vite one-module', buildDir('updraft', 'base'), buildDir('updraft', 'one-module')],
  ['create-vite dep-bump', buildDir('updraft', 'base'), buildDir('updraft', 'dep-bump')],
  ['demo 1.0.0 → 2.0.0', demo1, demo2],
];
const rows: Row[] = [];
const cctx = createCCtx();
const dctx = createDCtx();
for (const [pair, a, b] of pairs) {
  const before = files(a);
  for (const [file, next] of files(b)) {
    const prev = before.get(file);
    if (!prev || Buffer.compare(prev, next) === 0) continue;
    const fossil = createDelta(prev, next);
    const zstd = compressUsingDict(cctx, next, prev, 19);
    if (Buffer.compare(Buffer.from(applyDelta(prev, fossil)), Buffer.from(next)) !== 0) throw new Error(`fossil round trip failed for ${file}`);
    if (Buffer.compare(Buffer.from(decompressUsingDict(dctx, zstd, prev)), Buffer.from(next)) !== 0) throw new Error(`zstd round trip failed for ${file}`);
    rows.push({
      pair, file, raw: next.byteLength, rawBr: br(next), fossil: fossil.byteLength, fossilBr: Math.min(fossil.byteLength, br(fossil)), zstd: zstd.byteLength,
      fossilUs: median(() => applyDelta(prev, fossil)) * 1000, zstdUs: median(() => decompressUsingDict(dctx, zstd, prev)) * 1000,
    });
  }
}

console.log('pair | file | whole | whole br | fossil | fossil br | zstd-dict | fossil apply µs | zstd apply µs');
for (const r of rows) {
  console.log(`${r.pair} | ${r.file} | ${r.raw} | ${r.rawBr} | ${r.fossil} | ${r.fossilBr} | ${r.zstd} | ${r.fossilUs.toFixed(0)} | ${r.zstdUs.toFixed(0)}`);
}
const sum = (k: keyof Row) => rows.reduce((n, r) => n + (r[k] as number), 0);
const fossilDecoder = await bundleSize(join(REPO, 'bench/decoders/fossil.ts'));
const zstdGlue = await bundleSize(join(REPO, 'bench/decoders/zstd.ts'));
const wasm = readFileSync(join(REPO, 'node_modules/@bokuweb/zstd-wasm/dist/esm/zstd.wasm'));
// The package's Node entry inlines its .wasm into the JS; when the bundle is smaller than the .wasm, it is fetched apart: add it.
const inlined = zstdGlue.js > wasm.byteLength;
const zstdDecoder = inlined ? zstdGlue : { js: zstdGlue.js + wasm.byteLength, jsBr: zstdGlue.jsBr + br(wasm) };
console.log(`zstd bundle ${zstdGlue.js} B, its .wasm ${wasm.byteLength} B (${inlined ? 'inlined in the bundle' : 'added'})`);
console.log(`totals: whole ${sum('raw')} B, whole br ${sum('rawBr')} B, fossil ${sum('fossil')} B, fossil br ${sum('fossilBr')} B, zstd-dict ${sum('zstd')} B`);
console.log(`apply (sum of medians): fossil ${sum('fossilUs').toFixed(0)} µs, zstd ${sum('zstdUs').toFixed(0)} µs`);
console.log(`decoder added to the SW: fossil ${fossilDecoder.js} B (${fossilDecoder.jsBr} B br), zstd ${zstdDecoder.js} B (${zstdDecoder.jsBr} B br)`);
console.log(`deltas fossil+br/zstd-dict=${(sum('fossilBr') / sum('zstd')).toFixed(2)} (bytes), decoder fossil/zstd=${(fossilDecoder.jsBr / zstdDecoder.jsBr).toFixed(3)}`);
