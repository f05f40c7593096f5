import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { updraft } from './plugin/index.js';

// The demo PWA. UPDRAFT_DEMO_VERSION makes two builds differ in app content only (the e2e tests
// build 1.0.0, 2.0.0, ...); UPDRAFT_DEMO_OUT puts each build in its own directory.
// UPDRAFT_DEMO_BROKEN=1 makes the entry throw at start; UPDRAFT_DEMO_BOOT_TIMEOUT_MS sets the
// plugin's bootTimeoutMs (e2e/readiness.spec.ts). UPDRAFT_DEMO_PUBLIC_KEYS (comma-separated
// `ed25519:...` keys) makes the worker refuse plans not signed by one of them (e2e builds, npm start).
const repo = fileURLToPath(new URL('.', import.meta.url));
const version = process.env.UPDRAFT_DEMO_VERSION ?? '1.0.0';
const bootTimeoutMs = process.env.UPDRAFT_DEMO_BOOT_TIMEOUT_MS ? Number(process.env.UPDRAFT_DEMO_BOOT_TIMEOUT_MS) : undefined;
const publicKeys = (process.env.UPDRAFT_DEMO_PUBLIC_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);

export default defineConfig({
  root: resolve(repo, 'app/demo'),
  define: { __DEMO_VERSION__: JSON.stringify(version), __DEMO_BROKEN__: JSON.stringify(process.env.UPDRAFT_DEMO_BROKEN === '1') },
  build: {
    outDir: resolve(repo, process.env.UPDRAFT_DEMO_OUT ?? '.updraft/builds/dev'),
    emptyOutDir: true,
  },
  plugins: [updraft({ app: 'demo', channel: 'stable', version, ...(bootTimeoutMs === undefined ? {} : { bootTimeoutMs }), publicKeys })],
});
