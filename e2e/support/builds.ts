import { resolve } from 'node:path';

/** Demo builds made once per run by global setup: the same app at different versions. */
export const BUILDS_DIR = resolve(import.meta.dirname, '../../.tmp/e2e-builds');
export const VERSIONS = ['1.0.0', '2.0.0', '3.0.0'] as const;
export type DemoVersion = (typeof VERSIONS)[number];

/**
 * Builds for e2e/readiness.spec.ts only (not in VERSIONS: chaos runs pick from those). Their
 * worker rolls a release back when no page confirms it within `READINESS_BOOT_TIMEOUT_MS`; the
 * `broken` one throws at start, before it calls ready(). A separate set because `bootTimeoutMs` is
 * baked into `sw.js`: mixing them with the others would swap the worker.
 */
export const READINESS_BOOT_TIMEOUT_MS = 3000;
export const READINESS_BUILDS = {
  'ready-1.0.0': { version: '1.0.0', broken: false },
  'ready-2.0.0-broken': { version: '2.0.0', broken: true },
  'ready-3.0.0': { version: '3.0.0', broken: false },
} as const;
export type ReadinessBuild = keyof typeof READINESS_BUILDS;

/**
 * Build for e2e/worker-only.spec.ts: 1.0.0's app, built with a worker that also trusts
 * `E2E_NEXT_KEY_BASE` (step 2 of a key rotation): the same app files, another `sw.js`.
 */
export const ROTATED_BUILD = 'rotated-1.0.0';
/**
 * Builds for e2e/upgrade-0.5.spec.ts: the demo made by the previous Updraft (protocol 0.5,
 * `LEGACY_COMMIT`, the last commit before 0.6): its plugin, its worker (which does not say
 * `caps.swIds`) and its page client, so an upgrade starts from what devices in the field run.
 * Global setup builds them from that commit's source (`LEGACY_SOURCE`, its `git archive`), with
 * this checkout's node_modules. Name → version; 1.1.0 is a release that worker may be downloading when it is replaced.
 */
export const LEGACY_BUILDS = { 'v0.5-1.0.0': '1.0.0', 'v0.5-1.1.0': '1.1.0' } as const;
export const LEGACY_BUILD = 'v0.5-1.0.0';
export const LEGACY_NEXT_BUILD = 'v0.5-1.1.0';
export const LEGACY_COMMIT = '2b5e41f';
/** `LEGACY_COMMIT`'s source for these builds (scripts/legacy-source.mjs): committed, as a shallow clone lacks that commit. */
export const LEGACY_SOURCE = resolve(import.meta.dirname, '../fixtures/updraft-0.5-src.tar.gz');
export type BuildName = DemoVersion | ReadinessBuild | typeof ROTATED_BUILD | keyof typeof LEGACY_BUILDS;

/**
 * The signing key pair of every e2e build, made fresh by global setup: each worker trusts the
 * public key, and the harness signs plans with the private one unless a test says otherwise.
 */
export const E2E_KEY_BASE = resolve(BUILDS_DIR, 'keys/e2e-signing');
/** The next key of a rotation, trusted besides `E2E_KEY_BASE` by `ROTATED_BUILD` only. */
export const E2E_NEXT_KEY_BASE = resolve(BUILDS_DIR, 'keys/e2e-next-signing');

export function buildDir(name: BuildName): string {
  return resolve(BUILDS_DIR, name);
}
