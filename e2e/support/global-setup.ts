import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { resolve } from 'node:path';
import { build } from 'vite';
import { generateKeyFiles } from '../../server/index.js';
import { BUILDS_DIR, E2E_KEY_BASE, LEGACY_BUILDS, LEGACY_COMMIT, LEGACY_SOURCE, E2E_NEXT_KEY_BASE, READINESS_BOOT_TIMEOUT_MS, READINESS_BUILDS, ROTATED_BUILD, VERSIONS, buildDir, type BuildName } from './builds.js';

/** Builds the demo PWA once per version with the real plugin; tests publish these directories. */
export default async function globalSetup(): Promise<void> {
  rmSync(BUILDS_DIR, { recursive: true, force: true });
  mkdirSync(dirname(E2E_KEY_BASE), { recursive: true });
  // Every build trusts this key, so every e2e test runs with signed plans, as production should.
  const { publicKey } = await generateKeyFiles(E2E_KEY_BASE);
  const next = await generateKeyFiles(E2E_NEXT_KEY_BASE);
  process.env.UPDRAFT_DEMO_PUBLIC_KEYS = publicKey;
  try {
    await buildAll();
    // Last: the same app as 1.0.0, its worker trusting the next key too (only sw.js differs).
    await demoBuild(ROTATED_BUILD, { UPDRAFT_DEMO_VERSION: '1.0.0', UPDRAFT_DEMO_PUBLIC_KEYS: `${publicKey},${next.publicKey}` });
    await legacyBuild(publicKey);
  } finally {
    // Workers inherit this process's environment; `npm start` in demo.spec.ts must build its own way.
    delete process.env.UPDRAFT_DEMO_PUBLIC_KEYS;
  }
}

async function buildAll(): Promise<void> {
  for (const version of VERSIONS) await demoBuild(version, { UPDRAFT_DEMO_VERSION: version });
  for (const [name, b] of Object.entries(READINESS_BUILDS)) {
    await demoBuild(name as BuildName, {
      UPDRAFT_DEMO_VERSION: b.version,
      UPDRAFT_DEMO_BOOT_TIMEOUT_MS: String(READINESS_BOOT_TIMEOUT_MS),
      ...(b.broken ? { UPDRAFT_DEMO_BROKEN: '1' } : {}),
    });
  }
}

const REPO = resolve(import.meta.dirname, '../..');

/**
 * `LEGACY_BUILDS`: the demo built by the previous Updraft from its own source: the plugin, the
 * worker runtime, the protocol it shares, the demo app and its page client, the Vite config, and
 * package.json/tsconfig.json for how they load, as `git archive` of `LEGACY_COMMIT` gave them
 * (`LEGACY_SOURCE`, committed: a shallow clone lacks that commit; scripts/legacy-source.mjs
 * writes it). Nothing prebuilt is committed, so the builds are what that source makes. The
 * dependencies are this checkout's (a symlink): no install, and the lock file is the same as at
 * that commit (when it changes, these builds take the new versions, as an old build would not).
 */
async function legacyBuild(publicKey: string): Promise<void> {
  const src = resolve(BUILDS_DIR, `src-${LEGACY_COMMIT}`);
  mkdirSync(src, { recursive: true });
  execFileSync('tar', ['-xzf', LEGACY_SOURCE, '-C', src]);
  symlinkSync(resolve(REPO, 'node_modules'), resolve(src, 'node_modules'), 'dir');
  for (const [name, version] of Object.entries(LEGACY_BUILDS)) {
    await demoBuild(name as BuildName, { UPDRAFT_DEMO_VERSION: version, UPDRAFT_DEMO_PUBLIC_KEYS: publicKey }, resolve(src, 'vite.config.ts'));
  }
}

/** vite.config.ts reads these from the environment; set them for one build only. */
async function demoBuild(name: BuildName, env: Record<string, string>, configFile = resolve(REPO, 'vite.config.ts')): Promise<void> {
  Object.assign(process.env, env, { UPDRAFT_DEMO_OUT: buildDir(name) });
  try {
    await build({ configFile, logLevel: 'warn' });
  } finally {
    for (const key of [...Object.keys(env), 'UPDRAFT_DEMO_OUT']) delete process.env[key];
  }
}
