import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { BUILDS_DIR, READINESS_BOOT_TIMEOUT_MS, READINESS_BUILDS, VERSIONS, buildDir, type BuildName } from './builds.js';

/** Builds the demo PWA once per version with the real plugin; tests publish these directories. */
export default async function globalSetup(): Promise<void> {
  rmSync(BUILDS_DIR, { recursive: true, force: true });
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
