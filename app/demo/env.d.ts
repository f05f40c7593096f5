/** The demo's version, baked in by the root vite.config.ts (`UPDRAFT_DEMO_VERSION`). */
declare const __DEMO_VERSION__: string;
/** True in the e2e tests' broken build (`UPDRAFT_DEMO_BROKEN=1`): the entry throws at start. */
declare const __DEMO_BROKEN__: boolean;

interface Window {
  /** The demo's Updraft handle, exposed for the e2e tests and the console. */
  updraft?: import('../index.js').Updraft;
}
