import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Script } from 'node:vm';
import * as v from 'valibot';
import { build, createBuilder, createLogger, type BuildOptions, type Plugin, type Rolldown } from 'vite';
import { afterAll, describe, expect, test } from 'vitest';
import { checkManifestConsistency, computeReleaseId, MANIFEST_FILE, ReleaseManifest, SW_FILE } from '../protocol/index.js';
import { updraft, type UpdraftOptions } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'updraft-plugin-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A tiny app: an HTML entry, a main chunk with a lazy chunk and CSS, and public files. */
function fixture(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(work, 'app-'));
  const all: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'fixture', version: '1.2.3', type: 'module' }),
    'index.html': '<!doctype html><html><head><link rel="icon" href="/icon.svg"></head><body><div id="app"></div><script type="module" src="/main.js"></script></body></html>',
    'main.js': "import './style.css';\ndocument.querySelector('#app').textContent = 'hello v1';\nwindow.lazy = () => import('./lazy.js');\n",
    'lazy.js': "export const lazy = 'lazy';\n",
    'style.css': 'body { color: rebeccapurple; }\n',
    'public/icon.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
    'public/robots.txt': 'User-agent: *\n',
    'public/data/blob.unknownext': 'opaque',
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

async function buildApp(root: string, options: UpdraftOptions = { app: 'fixture' }, buildOptions: BuildOptions = {}): Promise<string> {
  const outDir = join(root, 'dist');
  await build({ root, configFile: false, logLevel: 'silent', plugins: [updraft(options)], build: { ...buildOptions, outDir } });
  return outDir;
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const readManifest = (outDir: string): ReleaseManifest => JSON.parse(readFileSync(join(outDir, MANIFEST_FILE), 'utf8'));

describe('build', () => {
  test('the manifest lists every emitted file with its hash, size and type', async () => {
    const outDir = await buildApp(fixture(), { app: 'fixture', version: '7.0.0' });
    const manifest = readManifest(outDir);

    expect(v.safeParse(ReleaseManifest, manifest).success).toBe(true);
    expect(await checkManifestConsistency(manifest)).toBeNull();
    expect(manifest).toMatchObject({ app: 'fixture', version: '7.0.0', entry: 'index.html' });
    expect(Date.parse(manifest.createdAt)).not.toBeNaN();

    const emitted = files(outDir).filter((p) => p !== SW_FILE && p !== MANIFEST_FILE);
    expect(manifest.assets.map((a) => a.path)).toEqual(emitted);
    expect(emitted).toEqual(expect.arrayContaining(['index.html', 'icon.svg', 'robots.txt', 'data/blob.unknownext']));
    expect(emitted.filter((p) => p.startsWith('assets/') && p.endsWith('.js'))).toHaveLength(2);
    for (const asset of manifest.assets) {
      const bytes = readFileSync(join(outDir, asset.path));
      expect(asset.sha256, asset.path).toBe(sha256(bytes));
      expect(asset.size, asset.path).toBe(bytes.byteLength);
    }
    const types = Object.fromEntries(manifest.assets.map((a) => [a.path.replace(/-[\w-]+\./, '.'), a.type]));
    expect(types).toMatchObject({
      'index.html': 'text/html',
      'icon.svg': 'image/svg+xml',
      'robots.txt': 'text/plain',
      'data/blob.unknownext': 'application/octet-stream',
      'assets/index.css': 'text/css',
    });
    expect(manifest.assets.filter((a) => a.path.endsWith('.js')).every((a) => a.type === 'text/javascript')).toBe(true);

    const sw = readFileSync(join(outDir, SW_FILE));
    expect(manifest.sw).toEqual({ path: SW_FILE, sha256: sha256(sw), size: sw.byteLength, type: 'text/javascript' });
    // The id covers the worker too (protocol 0.6): a build that changes only sw.js is another release.
    expect(manifest.id).toBe(await computeReleaseId(manifest.assets, 'index.html', manifest.sw));
    expect(manifest.id).not.toBe(await computeReleaseId(manifest.assets, 'index.html'));
  });

  test('content types mrmime lacks or gets wrong for a browser: .ico, .cjs', async () => {
    const outDir = await buildApp(fixture({ 'public/favicon.ico': '\0\0\x01\0', 'public/legacy.cjs': 'module.exports = 1;\n' }));
    const types = Object.fromEntries(readManifest(outDir).assets.map((a) => [a.path, a.type]));
    expect(types).toMatchObject({ 'favicon.ico': 'image/x-icon', 'legacy.cjs': 'text/javascript', 'robots.txt': 'text/plain' });
  });

  test('sw.js is a classic script, byte-identical across releases, and carries nothing release-specific', async () => {
    const a = await buildApp(fixture());
    const b = await buildApp(fixture({ 'main.js': "import './style.css';\ndocument.querySelector('#app').textContent = 'hello v2';\n" }));
    const [ma, mb] = [readManifest(a), readManifest(b)];
    expect(ma.id).not.toBe(mb.id);

    const [swA, swB] = [readFileSync(join(a, SW_FILE)), readFileSync(join(b, SW_FILE))];
    expect(swA.equals(swB)).toBe(true);
    expect(ma.sw).toEqual(mb.sw);

    const code = swA.toString('utf8');
    expect(() => new Script(code)).not.toThrow(); // no import/export: registers as a classic worker
    expect(code).not.toContain(ma.id);
    expect(code).toMatch(/app:["'`]fixture["'`]/);
    expect(code).toContain(MANIFEST_FILE);
    expect(code).toContain('updraft:event'); // the real runtime, not a stub
    expect(code).not.toContain('process.env'); // NODE_ENV defined, so Workbox's dev code is gone
  });

  test('sw.js changes with the baked-in config (channel)', async () => {
    const root = fixture();
    const stable = readFileSync(join(await buildApp(root, { app: 'fixture' }), SW_FILE));
    const beta = readFileSync(join(await buildApp(root, { app: 'fixture', channel: 'beta' }), SW_FILE));
    expect(stable.equals(beta)).toBe(false);
    expect(beta.toString()).toMatch(/channel:["'`]beta["'`]/);
  });

  test('defaults app and version from package.json', async () => {
    const manifest = readManifest(await buildApp(fixture(), {}));
    expect(manifest).toMatchObject({ app: 'fixture', version: '1.2.3' });
  });

  test.each([
    [{ chanel: 'beta' }, /^\[updraft\] unknown option "chanel"/],
    [{ channel: 'two words' }, /^\[updraft\] invalid options: channel/],
    [{ concurrency: 0 }, /^\[updraft\] invalid options: concurrency/],
  ])('bad options %j fail the build', async (options, message) => {
    const root = fixture();
    await expect(buildApp(root, options as UpdraftOptions)).rejects.toThrow(message);
    expect(existsSync(join(root, 'dist', MANIFEST_FILE))).toBe(false);
  });

  test('a custom swEntry is bundled around the runtime', async () => {
    const root = fixture({
      'src/sw.ts': "import { startUpdraft } from 'updraft/sw';\nimport { marker } from './marker.js';\n(self as any).customMarker = marker;\nstartUpdraft();\n",
      'src/marker.ts': "export const marker = 'custom-sw-entry-marker';\n",
    });
    const outDir = await buildApp(root, { app: 'fixture', swEntry: 'src/sw.ts' });
    const code = readFileSync(join(outDir, SW_FILE), 'utf8');
    expect(code).toContain('custom-sw-entry-marker');
    expect(code).toMatch(/app:["'`]fixture["'`]/);
    expect(() => new Script(code)).not.toThrow();
    expect(readManifest(outDir).assets.map((a) => a.path)).not.toContain('src/sw.ts');
  });

  test.each([
    ['listed after it, closeBundle ordered post', 'after', { order: 'post' as const }],
    ['listed before it, closeBundle ordered post', 'before', { order: 'post' as const }],
    ['listed after it, closeBundle', 'after', {}],
  ])('a plugin %s that changes a file still has it hashed as written', async (_name, where, hook) => {
    const root = fixture();
    const outDir = join(root, 'dist');
    const late: Plugin = {
      name: 'late-writer', apply: 'build',
      closeBundle: { ...hook, handler: () => appendFileSync(join(outDir, 'index.html'), '<!-- late-writer -->') },
    };
    const plugins = where === 'after' ? [updraft({ app: 'fixture' }), late] : [late, updraft({ app: 'fixture' })];
    await build({ root, configFile: false, logLevel: 'silent', plugins, build: { outDir } });
    const html = readFileSync(join(outDir, 'index.html'));
    expect(html.toString()).toContain('<!-- late-writer -->');
    expect(readManifest(outDir).assets.find((a) => a.path === 'index.html')?.sha256).toBe(sha256(html));
  });

  test('a missing swEntry fails the build with an [updraft] message before anything is written', async () => {
    const root = fixture();
    await expect(buildApp(root, { app: 'fixture', swEntry: 'src/sw.ts' })).rejects.toThrow(/^\[updraft\] invalid options: swEntry: .*sw\.ts does not exist/);
    expect(existsSync(join(root, 'dist'))).toBe(false);
  });

  test('a missing entry document fails the build', async () => {
    const root = fixture();
    await expect(
      build({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'x' })], build: { outDir: join(root, 'dist'), rolldownOptions: { input: join(root, 'main.js') } } }),
    ).rejects.toThrow(/^\[updraft\] index.html was not found/);
  });
});

describe('rebuilds', () => {
  test('the same sources built twice give the same release id, manifest and sw.js bytes', async () => {
    const root = fixture();
    const first = await buildApp(root);
    const [m1, sw1] = [readManifest(first), readFileSync(join(first, SW_FILE))];
    const second = await buildApp(root);
    const [m2, sw2] = [readManifest(second), readFileSync(join(second, SW_FILE))];
    expect(m2.id).toBe(m1.id);
    expect({ ...m2, createdAt: '' }).toEqual({ ...m1, createdAt: '' });
    expect(sw2.equals(sw1)).toBe(true);
  });

  test('a version bump changes the release, not sw.js', async () => {
    const root = fixture();
    const a = await buildApp(root, { app: 'fixture', version: '1.0.0' });
    const [ma, swa] = [readManifest(a), readFileSync(join(a, SW_FILE))];
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fixture', version: '2.0.0', type: 'module' }));
    const b = await buildApp(root, {});
    expect(readManifest(b).version).toBe('2.0.0');
    expect(readFileSync(join(b, SW_FILE)).equals(swa)).toBe(true);
    expect(readManifest(b).sw).toEqual(ma.sw);
  });

  test('vite build --watch: each rebuild rewrites the manifest for the new files, and sw.js keeps its bytes', async () => {
    const root = fixture();
    const outDir = join(root, 'dist');
    const watcher = (await build({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], build: { outDir, watch: {} } })) as Rolldown.RolldownWatcher;
    try {
      // The manifest is written in closeBundle, which Vite runs as the watcher reports BUNDLE_END,
      // so it can land after END: wait for the file itself.
      const manifestOtherThan = async (id: string | null) => {
        for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          if (!existsSync(join(outDir, MANIFEST_FILE))) continue;
          const m = readManifest(outDir);
          if (m.id !== id) return m;
        }
        throw new Error(`no manifest other than ${id} within 20 s`);
      };
      const m1 = await manifestOtherThan(null);
      const sw1 = readFileSync(join(outDir, SW_FILE));
      writeFileSync(join(root, 'main.js'), "import './style.css';\ndocument.querySelector('#app').textContent = 'hello v2';\n");
      const m2 = await manifestOtherThan(m1.id);
      expect(await checkManifestConsistency(m2)).toBeNull();
      expect(m2.assets.map((a) => a.path)).toEqual(files(outDir).filter((p) => p !== SW_FILE && p !== MANIFEST_FILE));
      for (const asset of m2.assets) expect(asset.sha256, asset.path).toBe(sha256(readFileSync(join(outDir, asset.path))));
      expect(m2.assets.some((a) => a.path.includes('lazy'))).toBe(false); // v2 dropped the lazy chunk
      expect(readFileSync(join(outDir, SW_FILE)).equals(sw1)).toBe(true);
    } finally {
      await watcher.close();
    }
  });
});

describe('Vite base', () => {
  const options = join(import.meta.dirname, '..', 'app', 'options.ts');
  /** The swUrl registerUpdraft() picks by default in an app built with `base`, read by running the built entry chunk. */
  async function defaultSwUrl(base: string): Promise<{ swUrl: string; outDir: string }> {
    const root = fixture({
      'main.js': `import { resolveRegisterOptions } from ${JSON.stringify(options)};\nglobalThis.swUrl = resolveRegisterOptions().swUrl;\n`,
    });
    const outDir = join(root, 'dist');
    await build({
      root, base, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture', splitClient: false })],
      build: { outDir, modulePreload: { polyfill: false } },
    });
    const entry = files(outDir).find((f) => /^assets\/index-.*\.js$/.test(f))!;
    const context: { swUrl?: string } = {};
    new Script(readFileSync(join(outDir, entry), 'utf8')).runInNewContext(context);
    return { swUrl: context.swUrl!, outDir };
  }

  test.each([
    ['/', '/sw.js', '/'],
    ['/app/', '/app/sw.js', '/app/'],
    ['/app', '/app/sw.js', '/app/'],
    ['./', '/sw.js', '/'],
    ['https://cdn.example.com/app/', '/sw.js', '/'],
  ])('base %j: registerUpdraft() registers %j by default, where the build put sw.js, and the worker finds the update server at %j', async (base, expected, server) => {
    const { swUrl, outDir } = await defaultSwUrl(base);
    expect(swUrl).toBe(expected);
    expect(readFileSync(join(outDir, SW_FILE), 'utf8')).toMatch(new RegExp(`server:["'\`]${server.replace(/\//g, '\\/')}["'\`]`));
    expect(existsSync(join(outDir, SW_FILE))).toBe(true);
    // Paths in the manifest are relative to outDir, whatever the base: the SW maps them under its scope.
    expect(readManifest(outDir).assets.map((a) => a.path)).toContain('index.html');
  });
  test('a full-URL base (a CDN) builds, with a warning that those files are not served offline', async () => {
    const root = fixture();
    const warnings: string[] = [];
    const logger = createLogger('warn');
    logger.warn = (msg) => void warnings.push(msg);
    await build({ root, base: 'https://cdn.example.com/app/', configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: { outDir: join(root, 'dist') } });
    expect(warnings.filter((w) => w.startsWith('[updraft]'))).toEqual([expect.stringMatching(/^\[updraft\] base is a full URL \(https:\/\/cdn\.example\.com\/app\/\): .*will not work offline/)]);
    expect(await checkManifestConsistency(readManifest(join(root, 'dist')))).toBeNull();
    // A path base is what Updraft serves: no warning.
    warnings.length = 0;
    await build({ root, base: '/app/', configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: { outDir: join(root, 'dist') } });
    expect(warnings.filter((w) => w.includes('[updraft]'))).toEqual([]);
  });
});

describe('what Vite puts in outDir is the release', () => {
  test('custom outDir and assetsDir, several pages, a worker, ?url/?raw imports, wasm, and public files with spaces, #, ?, % and non-ASCII names', async () => {
    const odd = ['icons/icon 192.png', 'a#b.txt', 'a?b.txt', '100%.txt', 'ünïcødé.txt', '日本.txt'];
    const root = fixture({
      'about/index.html': '<!doctype html><html><body><script type="module" src="/main.js"></script></body></html>',
      'main.js': [
        "import data from './data.bin?url';",
        "import text from './notes.txt?raw';",
        "import wasm from './add.wasm?url';",
        "const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });",
        'console.log(data, text, wasm, worker);',
      ].join('\n'),
      'worker.js': "self.onmessage = () => self.postMessage('pong');\n",
      'data.bin': 'x'.repeat(5000), // over assetsInlineLimit, so a file of its own
      'notes.txt': 'raw text\n',
      'add.wasm': '\0asm\x01\0\0\0' + '\0'.repeat(5000),
      'public/manifest.webmanifest': '{"name":"fixture"}',
      ...Object.fromEntries(odd.map((p) => [`public/${p}`, p])),
    });
    const outDir = join(root, 'www', 'out');
    await build({
      root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })],
      build: { outDir, assetsDir: 'static/js', rolldownOptions: { input: [join(root, 'index.html'), join(root, 'about/index.html')] } },
    });
    const manifest = readManifest(outDir);
    expect(await checkManifestConsistency(manifest)).toBeNull();
    const paths = manifest.assets.map((a) => a.path);
    expect(paths).toEqual(files(outDir).filter((p) => p !== SW_FILE && p !== MANIFEST_FILE));
    expect(paths).toEqual(expect.arrayContaining(['index.html', 'about/index.html', 'robots.txt', 'manifest.webmanifest', ...odd]));
    for (const name of ['data', 'add', 'worker']) expect(paths.some((p) => p.startsWith(`static/js/${name}-`)), name).toBe(true);
    const type = (p: string) => manifest.assets.find((a) => a.path === p || a.path.startsWith(p))?.type;
    expect(type('manifest.webmanifest')).toBe('application/manifest+json');
    expect(type('static/js/add-')).toBe('application/wasm');
    expect(type('static/js/worker-')).toBe('text/javascript');
    expect(type('icons/icon 192.png')).toBe('image/png');
    for (const p of odd) expect(manifest.assets.find((a) => a.path === p)?.sha256, p).toBe(sha256(Buffer.from(p)));
  });

  test('a file over 2 GiB (Node reads none that large whole) is hashed and listed', async () => {
    const root = fixture();
    const outDir = join(root, 'dist');
    const size = 2 ** 31 + 1;
    // Written into outDir rather than public/, so that Vite does not copy 2 GiB: sparse, it reads as zeros and takes no disk.
    const bigFile: Plugin = {
      name: 'big-file', apply: 'build',
      writeBundle() {
        writeFileSync(join(outDir, 'big.bin'), '');
        truncateSync(join(outDir, 'big.bin'), size);
      },
    };
    await build({ root, configFile: false, logLevel: 'silent', plugins: [bigFile, updraft({ app: 'fixture' })], build: { outDir } });
    const manifest = readManifest(outDir);
    const big = manifest.assets.find((a) => a.path === 'big.bin')!;
    expect(big.size).toBe(size);
    const zeros = createHash('sha256');
    const mib = Buffer.alloc(1 << 20);
    for (let left = size; left > 0; left -= mib.byteLength) zeros.update(left >= mib.byteLength ? mib : mib.subarray(0, left));
    expect(big.sha256).toBe(zeros.digest('hex'));
  });

  test('an empty public dir, or none, adds nothing', async () => {
    const root = fixture();
    rmSync(join(root, 'public'), { recursive: true });
    mkdirSync(join(root, 'public'));
    const empty = readManifest(await buildApp(root));
    const none = join(root, 'dist-none');
    await build({ root, configFile: false, logLevel: 'silent', publicDir: false, plugins: [updraft({ app: 'fixture' })], build: { outDir: none } });
    expect(readManifest(none).id).toBe(empty.id);
    expect(empty.assets.map((a) => a.path).filter((p) => !p.startsWith('assets/'))).toEqual(['index.html']);
  });
});

describe('an outDir Vite does not empty', () => {
  const warningsOf = () => {
    const warnings: string[] = [];
    const logger = createLogger('warn');
    logger.warn = (msg) => void warnings.push(msg);
    return { warnings, logger };
  };

  test.each([
    ['build.emptyOutDir: false', (root: string) => ({ outDir: join(root, 'dist'), emptyOutDir: false }), 'dist'],
    ['an outDir outside the root', (root: string) => ({ outDir: join(root, '..', `${basename(root)}-out`) }), '../'],
  ])('%s: the build warns that the files left in it go into the release', async (_name, settings, shown) => {
    const root = fixture();
    const { outDir } = settings(root);
    await build({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], build: settings(root) });
    const first = readManifest(outDir);
    writeFileSync(join(root, 'main.js'), "document.querySelector('#app').textContent = 'hello v2';\n");
    const { warnings, logger } = warningsOf();
    await build({ root, configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: settings(root) });
    expect(warnings.filter((w) => w.startsWith('[updraft]'))).toEqual([
      expect.stringMatching(new RegExp(`^\\[updraft\\] ${shown.replace(/\./g, '\\.')}.* is not emptied before the build and already holds assets, .*build\\.emptyOutDir: true`)),
    ]);
    // What it warns of: the first build's chunks are still listed.
    const stale = first.assets.find((a) => a.path.startsWith('assets/lazy-'))!;
    expect(readManifest(outDir).assets.map((a) => a.path)).toContain(stale.path);
  });

  test('an outDir Vite empties, or a first build into a new one, gets no warning', async () => {
    const root = fixture();
    const { warnings, logger } = warningsOf();
    await build({ root, configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: { outDir: join(root, '..', `${basename(root)}-new`) } });
    await build({ root, configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: { outDir: join(root, 'dist') } });
    await build({ root, configFile: false, customLogger: logger, plugins: [updraft({ app: 'fixture' })], build: { outDir: join(root, 'dist') } });
    expect(warnings.filter((w) => w.includes('[updraft]'))).toEqual([]);
  });
});

describe('source maps', () => {
  test('build.sourcemap puts the .map files in the release; the README recipe moving them out of outDir in writeBundle keeps them out', async () => {
    const withMaps = await buildApp(fixture(), undefined, { sourcemap: true });
    const maps = readManifest(withMaps).assets.filter((a) => a.path.endsWith('.map'));
    expect(maps.length).toBe(2);
    expect(maps.every((a) => a.type === 'application/json')).toBe(true);

    // The recipe (README, updraft/vite): hidden maps, moved out in writeBundle, which runs before updraft's closeBundle.
    const root = fixture();
    const outDir = join(root, 'dist');
    const mapsDir = join(root, 'sourcemaps');
    const moveMaps: Plugin = {
      name: 'move-sourcemaps', apply: 'build',
      writeBundle(output, bundle) {
        for (const name of Object.keys(bundle).filter((n) => n.endsWith('.map'))) {
          mkdirSync(dirname(join(mapsDir, name)), { recursive: true });
          renameSync(join(output.dir!, name), join(mapsDir, name));
        }
      },
    };
    await build({ root, configFile: false, logLevel: 'silent', plugins: [moveMaps, updraft({ app: 'fixture' })], build: { outDir, sourcemap: 'hidden' } });
    const manifest = readManifest(outDir);
    expect(manifest.assets.some((a) => a.path.endsWith('.map'))).toBe(false);
    expect(manifest.assets.map((a) => a.path)).toEqual(files(outDir).filter((p) => p !== SW_FILE && p !== MANIFEST_FILE));
    expect(files(mapsDir).filter((f) => f.endsWith('.js.map'))).toHaveLength(2);
  });
});

describe('app files where the plugin writes its own', () => {
  test.each([
    ['public/sw.js', { 'public/sw.js': '// the app\'s own worker\n' }, {}, /\[updraft\] public\/sw\.js would be written to sw\.js in outDir.*swEntry/],
    ['public/updraft-release.json', { 'public/updraft-release.json': '{}' }, {}, /\[updraft\] public\/updraft-release\.json would be written to updraft-release\.json/],
    [
      'an entry chunk named sw.js (the app building its own worker)',
      { 'src/sw.js': "self.addEventListener('fetch', () => {});\n" },
      { input: { index: 'index.html', sw: 'src/sw.js' }, output: { entryFileNames: (c: { name: string }) => (c.name === 'sw' ? '[name].js' : 'assets/[name]-[hash].js') } },
      /\[updraft\] the chunk of src\/sw\.js would be written to sw\.js in outDir/,
    ],
  ])('%s fails the build instead of being overwritten', async (_name, extra, rolldownOptions, message) => {
    const root = fixture(extra);
    const input = 'input' in rolldownOptions ? Object.fromEntries(Object.entries(rolldownOptions.input).map(([k, p]) => [k, join(root, p)])) : undefined;
    const outDir = join(root, 'dist');
    await expect(
      build({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], build: { outDir, rolldownOptions: { ...rolldownOptions, input } } }),
    ).rejects.toThrow(message);
    expect(existsSync(join(outDir, MANIFEST_FILE))).toBe(false);
  });

  test('with copyPublicDir off, a public/sw.js is not copied and is no clash', async () => {
    const root = fixture({ 'public/sw.js': '// the app\'s own worker\n' });
    const outDir = join(root, 'dist');
    await build({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], build: { outDir, copyPublicDir: false } });
    expect(readFileSync(join(outDir, SW_FILE), 'utf8')).toContain('updraft:event');
  });
});

describe('a build that fails', () => {
  // Rolldown calls closeBundle again, without the error, when Vite closes a bundle whose generate
  // or write failed: hashing then threw its own error ("index.html was not found", ENOENT) in
  // Vite's `finally`, which replaced the app's, or described a half-written outDir.
  test.each(['renderChunk', 'generateBundle', 'writeBundle'])('in another plugin\'s %s fails with that error and writes no release', async (hook) => {
    const root = fixture();
    const boom: Plugin = { name: 'boom', apply: 'build', [hook]: () => { throw new Error(`boom in ${hook}`); } };
    await expect(
      build({ root, configFile: false, logLevel: 'silent', plugins: [boom, updraft({ app: 'fixture' })], build: { outDir: join(root, 'dist') } }),
    ).rejects.toThrow(`boom in ${hook}`);
    expect(existsSync(join(root, 'dist', MANIFEST_FILE))).toBe(false);
    expect(existsSync(join(root, 'dist', SW_FILE))).toBe(false);
  });
});

describe('the app builder with an SSR environment beside the client one', () => {
  // `vite build --app` runs createBuilder().buildApp(): every environment's hooks run with one
  // plugin instance (or one per environment), and configResolved is not the client's config.
  test.each([
    ['default', {}],
    ['sharedPlugins', { sharedPlugins: true }],
    ['sharedConfigBuild', { sharedConfigBuild: true }],
  ])('the release is written into the client outDir only (builder %s)', async (_name, builder) => {
    const root = fixture({ 'server.js': 'export const render = () => "ssr";\n' });
    const app = await createBuilder({
      root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], builder,
      environments: {
        client: { build: { outDir: join(root, 'dist/client') } },
        ssr: { build: { outDir: join(root, 'dist/server'), rolldownOptions: { input: join(root, 'server.js') } } },
      },
    });
    await app.buildApp();
    const client = join(root, 'dist/client');
    const manifest = readManifest(client);
    expect(await checkManifestConsistency(manifest)).toBeNull();
    expect(manifest.assets.map((a) => a.path)).toEqual(files(client).filter((p) => p !== SW_FILE && p !== MANIFEST_FILE));
    expect(manifest.assets.map((a) => a.path)).not.toContain('server.js');
    expect(existsSync(join(client, SW_FILE))).toBe(true);
    const server = files(join(root, 'dist/server'));
    expect(server).toContain('server.js');
    expect(server).not.toContain(SW_FILE);
    expect(server).not.toContain(MANIFEST_FILE);
  });
});

describe('the page client in a chunk of its own', () => {
  const client = join(import.meta.dirname, '..', 'app', 'index.ts');
  const app = (text: string) => ({
    'main.js': `import { registerUpdraft } from ${JSON.stringify(client)};\nregisterUpdraft();\ndocument.querySelector('#app').textContent = ${JSON.stringify(text)};\n`,
  });
  const chunks = (outDir: string) => files(outDir).filter((f) => f.endsWith('.js') && f !== SW_FILE);

  test('an app change leaves the updraft-client chunk byte-identical, so an update does not download it again', async () => {
    const a = await buildApp(fixture(app('hello v1')));
    const b = await buildApp(fixture(app('hello v2')));
    const clientChunk = chunks(a).find((f) => /^assets\/updraft-client-[\w-]+\.js$/.test(f));
    expect(clientChunk).toBeDefined();
    expect(chunks(b)).toContain(clientChunk);
    expect(readFileSync(join(a, clientChunk!))).toEqual(readFileSync(join(b, clientChunk!)));
    expect(readFileSync(join(a, clientChunk!), 'utf8')).toContain('updraft:');
    // The entry chunk holds only the app now, and it is what changed.
    const entry = (dir: string) => chunks(dir).find((f) => /^assets\/index-/.test(f))!;
    expect(entry(a)).not.toBe(entry(b));
    expect(readFileSync(join(a, entry(a))).byteLength).toBeLessThan(2000);
  });

  test('an app whose rolldownOptions.output is an array gets the split in its one output, not an unsplit second one', async () => {
    const root = fixture(app('z'));
    const outDir = join(root, 'dist');
    await build({
      root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })],
      build: { outDir, rolldownOptions: { output: [{ entryFileNames: 'assets/[name]-[hash].js' }] } },
    });
    const js = chunks(outDir);
    expect(js.filter((f) => /^assets\/index-/.test(f))).toHaveLength(1);
    expect(js.filter((f) => /^assets\/updraft-client-/.test(f))).toHaveLength(1);
    expect(await checkManifestConsistency(readManifest(outDir))).toBeNull();
  });

  test("an app's own chunks set on the client environment (environments.client) are kept", async () => {
    const root = fixture(app('w'));
    const outDir = join(root, 'dist');
    await build({
      root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })], build: { outDir },
      environments: { client: { build: { rolldownOptions: { output: { manualChunks: (id: string) => (id.includes('workbox-window') ? 'wb' : undefined) } } } } },
    });
    expect(chunks(outDir).some((f) => f.includes('updraft-client'))).toBe(false);
    expect(chunks(outDir).some((f) => /assets\/wb-/.test(f))).toBe(true);
  });

  test('splitClient: false, or an app choosing its own chunks, keeps the default chunking', async () => {
    const off = await buildApp(fixture(app('x')), { app: 'fixture', splitClient: false });
    expect(chunks(off).some((f) => f.includes('updraft-client'))).toBe(false);
    const root = fixture(app('y'));
    const outDir = join(root, 'dist');
    await build({
      root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'fixture' })],
      build: { outDir, rolldownOptions: { output: { manualChunks: (id: string) => (id.includes('workbox-window') ? 'wb' : undefined) } } },
    });
    expect(chunks(outDir).some((f) => f.includes('updraft-client'))).toBe(false);
    expect(chunks(outDir).some((f) => /assets\/wb-/.test(f))).toBe(true);
  });
});
