import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { BUILDS_DIR, VERSIONS, buildDir } from './builds.js';

/** Builds the demo PWA once per version with the real plugin; tests publish these directories. */
export default async function globalSetup(): Promise<void> {
  rmSync(BUILDS_DIR, { recursive: true, force: true });
  for (const version of VERSIONS) {
    process.env.UPDRAFT_DEMO_VERSION = version;
    process.env.UPDRAFT_DEMO_OUT = buildDir(version);
    await build({ configFile: resolve(import.meta.dirname, '../../vite.config.ts'), logLevel: 'warn' });
  }
  delete process.env.UPDRAFT_DEMO_VERSION;
  delete process.env.UPDRAFT_DEMO_OUT;
}
