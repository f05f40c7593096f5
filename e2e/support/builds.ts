import { resolve } from 'node:path';

/** Demo builds made once per run by global setup: the same app at different versions. */
export const BUILDS_DIR = resolve(import.meta.dirname, '../../.tmp/e2e-builds');
export const VERSIONS = ['1.0.0', '2.0.0', '3.0.0'] as const;
export type DemoVersion = (typeof VERSIONS)[number];

export function buildDir(version: DemoVersion): string {
  return resolve(BUILDS_DIR, version);
}
