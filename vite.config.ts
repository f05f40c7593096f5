import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { updraft } from './plugin/index.js';

// The demo PWA. UPDRAFT_DEMO_VERSION makes two builds differ in app content only (the e2e tests
// build 1.0.0, 2.0.0, ...); UPDRAFT_DEMO_OUT puts each build in its own directory.
const repo = fileURLToPath(new URL('.', import.meta.url));
const version = process.env.UPDRAFT_DEMO_VERSION ?? '1.0.0';

export default defineConfig({
  root: resolve(repo, 'app/demo'),
  define: { __DEMO_VERSION__: JSON.stringify(version) },
  build: {
    outDir: resolve(repo, process.env.UPDRAFT_DEMO_OUT ?? '.updraft/builds/dev'),
    emptyOutDir: true,
  },
  plugins: [updraft({ app: 'demo', channel: 'stable', version })],
});
