import { existsSync } from 'node:fs';
import type { LaunchOptions } from '@playwright/test';

/**
 * Flags for Chromium in closed or CI networks: without the background-networking flags a sandboxed
 * machine floods Chromium with refused connections to Google hosts (seen on Debian CI machines).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * The executable to launch: `UPDRAFT_CHROMIUM` if set, else a system Chromium if one is installed,
 * else undefined (Playwright's own downloaded browser).
 */
export function chromiumExecutable(): string | undefined {
  const fromEnv = process.env.UPDRAFT_CHROMIUM;
  if (fromEnv) return fromEnv;
  return SYSTEM_CHROMIUMS.find((p) => existsSync(p));
}

/** Launch options for `use: { launchOptions }` in a Playwright config. */
export function chromiumLaunchOptions(extra: LaunchOptions = {}): LaunchOptions {
  const executablePath = chromiumExecutable();
  return {
    ...(executablePath ? { executablePath } : {}),
    ...extra,
    args: [...CHROMIUM_ARGS, ...(extra.args ?? [])],
  };
}
