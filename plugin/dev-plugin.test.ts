import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { updraft, type UpdraftOptions } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'updraft-dev-'));
let server: ViteDevServer;
let origin: string;

beforeAll(async () => {
  writeFileSync(join(root, 'index.html'), '<!doctype html><p>dev</p>');
  server = await createServer({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'dev' })], server: { port: 0, host: '127.0.0.1', ws: false } });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  origin = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

test('vite dev serves a self-unregistering sw.js, never a cached one', async () => {
  const res = await fetch(`${origin}/sw.js?v=1`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = await res.text();
  expect(body).toContain('registration.unregister()');
  expect(body).not.toContain('__UPDRAFT_CONFIG__');
});

test('vite dev checks the options as vite build does: a typo fails at once, naming the option', async () => {
  await expect(
    createServer({ root, configFile: false, logLevel: 'silent', plugins: [updraft({ app: 'dev', chanel: 'beta' } as UpdraftOptions)], server: { port: 0, host: '127.0.0.1', ws: false } }),
  ).rejects.toThrow(/^\[updraft\] unknown option "chanel"/);
});
