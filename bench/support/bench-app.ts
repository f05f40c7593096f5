/**
 * A generated app built by Vite with the real Updraft plugin, for the browser benchmarks: an entry
 * document, one script that registers Updraft, and `assets - 3` small SVG files (the client has a chunk of its own) under public/
 * (the first `images` of them shown by the document, so a page load fetches them). Two versions of
 * the same size differ in the document, the script and `changed` of the SVGs: the same update
 * whatever the size, so only the release's asset count varies between sizes.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { MANIFEST_FILE, type ReleaseManifest } from '../../protocol/index.js';
import { updraft } from '../../plugin/index.js';

export const BENCH_DIR = resolve(import.meta.dirname, '../../.tmp/bench');
const REGISTER = resolve(import.meta.dirname, '../../app/index.ts');

export interface BenchAppOptions {
  /** Assets in the release manifest (document + script + SVGs). */
  assets: number;
  version: string;
  /** SVGs whose bytes depend on the version. @default 5 */
  changed?: number;
  /** SVGs the document shows. @default 0 */
  images?: number;
}

export interface BenchApp {
  dir: string;
  manifest: ReleaseManifest;
}

export async function buildBenchApp(o: BenchAppOptions): Promise<BenchApp> {
  const changed = o.changed ?? 5;
  const images = Math.min(o.images ?? 0, o.assets - 3);
  const name = `app-${o.assets}-${o.version}`;
  const src = join(BENCH_DIR, 'src', name);
  const dir = join(BENCH_DIR, 'builds', name);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(join(src, 'public/img'), { recursive: true });
  // index.html, the entry chunk and the page client's chunk (`splitClient`), then images.
  const svgs = Array.from({ length: o.assets - 3 }, (_, i) => `img/i-${String(i).padStart(5, '0')}.svg`);
  svgs.forEach((path, i) => {
    const label = i < changed ? `${i} v${o.version}` : String(i);
    const hue = (i * 37) % 360;
    writeFileSync(
      join(src, 'public', path),
      `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="hsl(${hue} 70% 50%)"/><title>${label}</title></svg>\n`,
    );
  });
  const imgs = svgs.slice(0, images).map((p) => `<img src="/${p}" width="16" height="16" alt="">`).join('\n');
  writeFileSync(
    join(src, 'index.html'),
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>bench ${o.version}</title></head>\n<body><h1 id="version">${o.version}</h1>\n${imgs}\n<script type="module" src="./main.ts"></script></body></html>\n`,
  );
  writeFileSync(
    join(src, 'main.ts'),
    // `window.updraft` for the benchmarks' page-side timing; ready() confirms the release, as apps do.
    `import { registerUpdraft } from ${JSON.stringify(REGISTER)};\nconst updraft = registerUpdraft();\n(window as unknown as { updraft: unknown }).updraft = updraft;\nupdraft.ready().catch(() => {});\nconsole.debug('bench app ${o.version}');\n`,
  );
  await build({
    configFile: false,
    root: src,
    logLevel: 'warn',
    build: { outDir: dir, emptyOutDir: true },
    plugins: [updraft({ app: 'bench', channel: 'stable', version: o.version })],
  });
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
  if (manifest.assets.length !== o.assets) throw new Error(`${name}: ${manifest.assets.length} assets, expected ${o.assets}`);
  return { dir, manifest };
}
