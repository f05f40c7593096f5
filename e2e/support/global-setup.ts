import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { resolve } from 'node:path';
import { build } from 'vite';
import { generateKeyFiles } from '../../server/index.js';
import { BUILDS_DIR, E2E_KEY_BASE, E2E_NEXT_KEY_BASE, READINESS_BOOT_TIMEOUT_MS, READINESS_BUILDS, ROTATED_BUILD, VERSIONS, buildDir, type BuildName } from './builds.js';

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

/** vite.config.ts reads these from the environment; set them for one build only. */
async function demoBuild(name: BuildName, env: Record<string, string>): Promise<void> {
  Object.assign(process.env, env, { UPDRAFT_DEMO_OUT: buildDir(name) });
  try {
    await build({ configFile: resolve(import.meta.dirname, '../../vite.config.ts'), logLevel: 'warn' });
  } finally {
    for (const key of [...Object.keys(env), 'UPDRAFT_DEMO_OUT']) delete process.env[key];
  }
}
