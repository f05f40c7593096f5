/** The demo's version, baked in by the root vite.config.ts (`UPDRAFT_DEMO_VERSION`). */
declare const __DEMO_VERSION__: string;

interface Window {
  /** The demo's Updraft handle, exposed for the e2e tests and the console. */
  updraft?: import('../index.js').Updraft;
}
