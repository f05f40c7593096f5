import type { Plugin } from 'vite';
import { SW_FILE } from '../protocol/index.js';

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

export function devPlugin(): Plugin {
  return {
    name: 'updraft:dev',
    apply: 'serve',
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
