import type { Plugin } from 'vite';
import { SW_FILE } from '../protocol/index.js';
import { resolveOptions } from './options.js';

/**
 * DEVELOPMENT ONLY: a self-unregistering stand-in for the Updraft service worker. It replaces
 * whatever worker this origin had (a `vite preview` build, say) and removes itself, so `vite dev`
 * never serves a stale release. It does not reload pages: the page would register it again and loop.
 */
export const DEV_SW_SOURCE = `// Updraft dev stand-in (vite dev): NOT the real service worker. It unregisters itself so no
// stale release is served during development. Build the app to get the real sw.js.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.registration.unregister()));
`;

export function devPlugin(rawOptions: unknown): Plugin {
  return {
    name: 'updraft:dev',
    apply: 'serve',
    configResolved(config) {
      // Nothing here uses the options, but a typo in them should show at `vite dev`, not first in CI's build.
      resolveOptions(rawOptions, config.root, config.base);
    },
    configureServer(server) {
      const path = server.config.base + SW_FILE;
      server.middlewares.use((req, res, next) => {
        const url = req.url?.split('?')[0];
        if (url !== path) return next();
        res.statusCode = 200;
        res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
        res.setHeader('Cache-Control', 'no-store');
        res.end(DEV_SW_SOURCE);
      });
    },
  };
}
