import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { MANIFEST_FILE, SW_FILE, type SwConfig } from '../protocol/index.js';
import { writeFileAtomic } from '../server/atomic-file.js';
import { collectAssets, describeAsset } from './assets.js';
import { clash, crossOriginBase, isFullUrl, leftOver, OWN_FILES, staleFiles } from './build-setup.js';
import { withClientChunk } from './client-chunk.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { createReleaseManifest, formatBytes } from './release-manifest.js';
import { bundleServiceWorker } from './sw-bundle.js';
import { resolveSwRuntime } from './sw-runtime.js';

const ENTRY = 'index.html';
/** The service worker's baked-in configuration: only what is stable across releases of one app. */
export function swConfigFor(options: ResolvedOptions): SwConfig {
  return {
    server: options.server,
    app: options.app,
    channel: options.channel,
    manifest: MANIFEST_FILE,
    concurrency: options.concurrency,
    bootTimeoutMs: options.bootTimeoutMs,
    ...(options.publicKeys.length ? { publicKeys: options.publicKeys } : {}),
  };
}

/**
 * After the client build is written, describes every file in outDir as a release, bundles `sw.js`
 * and writes both beside the build.
 */
export function buildPlugin(rawOptions: unknown): Plugin {
  let options: ResolvedOptions;
  let runtime: string;
  // Per environment (the app builder may share this instance): whether this build's output was
  // written whole. Rolldown calls closeBundle again from `bundle.close()`, with no error, after a
  // failed generate or write, and Vite closes the bundle in a `finally`: hashing then would
  // describe a half-written outDir, and an error thrown there would replace the build's own.
  const written = new Map<string, 'pending' | 'written' | 'failed'>();
  return {
    name: 'updraft:build',
    apply: 'build',
    // With closeBundle's `order: 'post'` this puts the hashing after every other plugin's
    // closeBundle except an `enforce: 'post'` plugin listed after this one whose closeBundle is
    // also `post` (README, updraft/vite). Vite's own post plugins still come after it, and none
    // of them has an outputOptions hook or writes in closeBundle.
    enforce: 'post',
    outputOptions(output) {
      // Per output of each environment's build: only the browser's chunks are split.
      if (!options.splitClient || this.environment.config.consumer !== 'client') return null;
      return withClientChunk(output);
    },
    configResolved(resolved) {
      options = resolveOptions(rawOptions, resolved.root, resolved.base);
    },
    buildStart() {
      // Fail before the app is bundled, not after.
      runtime = resolveSwRuntime();
      written.set(this.environment.name, 'pending');
      const env = this.environment.config;
      if (env.consumer !== 'client') return;
      if (isFullUrl(env.base)) this.environment.logger.warn(crossOriginBase(env.base));
      const stale = env.build.write ? leftOver(env.root, resolve(env.root, env.build.outDir), env.build.emptyOutDir) : [];
      if (stale.length > 0) this.environment.logger.warn(staleFiles(relative(env.root, resolve(env.root, env.build.outDir)) || '.', stale));
      if (!env.build.copyPublicDir || !env.publicDir) return;
      for (const name of OWN_FILES) {
        const file = join(env.publicDir, name);
        if (existsSync(file)) this.error(clash(relative(env.root, file), name));
      }
    },
    renderError() {
      written.set(this.environment.name, 'failed');
    },
    writeBundle() {
      if (written.get(this.environment.name) === 'pending') written.set(this.environment.name, 'written');
    },
    generateBundle(_output, bundle) {
      const env = this.environment.config;
      if (env.consumer !== 'client') return;
      for (const name of OWN_FILES) {
        const file = bundle[name];
        if (!file) continue;
        const source = file.type === 'chunk' ? file.facadeModuleId : file.originalFileNames[0];
        this.error(clash(`the ${file.type} of ${source ? relative(env.root, source) : file.name}`, name));
      }
    },
    // closeBundle, not writeBundle: it runs once every output and every other plugin's writeBundle
    // is done, and `public/` was copied at renderStart, so outDir holds the whole release.
    closeBundle: {
      order: 'post',
      sequential: true,
      async handler(error?: Error) {
        // This environment's config, not configResolved's: under the app builder (`vite build
        // --app`) configResolved runs once per environment and the last one (often SSR) would
        // win, or with `sharedConfigBuild` it holds the top-level outDir, not the client's.
        const env = this.environment.config;
        const state = written.get(this.environment.name);
        written.delete(this.environment.name);
        if (error || state !== 'written' || env.build.ssr || env.consumer !== 'client') return;
        const outDir = resolve(env.root, env.build.outDir);
        const assets = await collectAssets(outDir, new Set([SW_FILE, MANIFEST_FILE]));
        if (!assets.some((a) => a.path === ENTRY)) throw new Error(`[updraft] ${ENTRY} was not found in ${outDir}`);

        const sw = await bundleServiceWorker({
          root: env.root,
          entry: options.swEntry,
          runtime,
          config: swConfigFor(options),
        });
        // Both files appear whole or not at all: under `vite build --watch` a reader (a publish
        // script, a test) that polls them saw a half-written manifest (`Unexpected end of JSON
        // input` in build.test.ts's watch test, once in a full run).
        await writeFileAtomic(join(outDir, SW_FILE), sw);

        const manifest = await createReleaseManifest({
          app: options.app,
          version: options.version,
          entry: ENTRY,
          assets,
          sw: describeAsset(SW_FILE, sw),
        });
        await writeFileAtomic(join(outDir, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));

        const bytes = assets.reduce((sum, a) => sum + a.size, 0);
        this.environment.logger.info(`updraft: release ${manifest.id} (${assets.length} assets, ${formatBytes(bytes)})`);
      },
    },
  };
}
