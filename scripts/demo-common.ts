import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { build } from 'vite';
import { createPlanSigner, generateKeyFiles, loadSigningKey, type PlanSigner } from '../server/index.js';

/** Everything the demo keeps lives under `.updraft/` (git-ignored): store, builds, token, version. */
export const REPO = resolve(import.meta.dirname, '..');
export const HOME = resolve(REPO, process.env.UPDRAFT_DEMO_HOME ?? '.updraft');
export const DATA = resolve(HOME, 'data');
const VERSION_FILE = resolve(HOME, 'demo-version');
const TOKEN_FILE = resolve(HOME, 'token');
const SERVER_FILE = resolve(HOME, 'server-url');

export function demoVersion(): string {
  return existsSync(VERSION_FILE) ? readFileSync(VERSION_FILE, 'utf8').trim() : '1.0.0';
}

export function saveDemoVersion(version: string): void {
  mkdirSync(HOME, { recursive: true });
  writeFileSync(VERSION_FILE, `${version}\n`);
}

/** The admin token: UPDRAFT_TOKEN, else one generated on first start and kept. */
export function demoToken(): string {
  if (process.env.UPDRAFT_TOKEN) return process.env.UPDRAFT_TOKEN;
  if (existsSync(TOKEN_FILE)) return readFileSync(TOKEN_FILE, 'utf8').trim();
  mkdirSync(HOME, { recursive: true });
  const token = randomBytes(18).toString('base64url');
  writeFileSync(TOKEN_FILE, `${token}\n`, { mode: 0o600 });
  return token;
}

export function saveServerUrl(url: string): void {
  writeFileSync(SERVER_FILE, `${url}\n`);
}

export function serverUrl(): string {
  if (!existsSync(SERVER_FILE)) throw new Error('the demo server is not running: start it with `npm start` first');
  return readFileSync(SERVER_FILE, 'utf8').trim();
}

const KEY_BASE = resolve(HOME, 'signing');

/** The demo's signing key pair (made on first start and kept): the build trusts it, the server signs with it. */
export async function demoKeys(): Promise<{ publicKey: string; signer: PlanSigner }> {
  if (!existsSync(`${KEY_BASE}.key`)) {
    mkdirSync(HOME, { recursive: true });
    await generateKeyFiles(KEY_BASE);
  }
  const key = await loadSigningKey(readFileSync(`${KEY_BASE}.key`, 'utf8'));
  return { publicKey: key.publicKey, signer: createPlanSigner([key])! };
}

/** Builds the demo PWA at `version` with the Updraft plugin; returns the output directory. */
export async function buildDemo(version: string): Promise<string> {
  const out = resolve(HOME, 'builds', version);
  process.env.UPDRAFT_DEMO_PUBLIC_KEYS = (await demoKeys()).publicKey;
  process.env.UPDRAFT_DEMO_VERSION = version;
  process.env.UPDRAFT_DEMO_OUT = out;
  await build({ configFile: resolve(REPO, 'vite.config.ts'), logLevel: 'warn' });
  return out;
}
