/**
 * `updraft/playwright`: drive Updraft updates deterministically from Playwright tests.
 *
 *   import { test, expect } from 'updraft/playwright';
 *   test('gets v2', async ({ page, updraft, updraftServer }) => { ... });
 */
import { test as base } from '@playwright/test';
import { UpdraftDriver } from './driver.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export { expect } from '@playwright/test';
export { UpdraftDriver, TASKS_SYNC_TAG, CHECK_IN_SYNC_TAG, type WaitOptions } from './driver.js';
export { startTestServer, type TestServer, type TestServerOptions } from './server.js';
export { CHROMIUM_ARGS, chromiumExecutable, chromiumLaunchOptions } from './browser.js';

export interface UpdraftFixtures {
  /** Controls the SW of the test's `page`: sync(), periodicSync(), stopWorker(), offline(), online(), state(), waitFor...(). */
  updraft: UpdraftDriver;
  /** An Updraft server with a temporary store, closed after the test. */
  updraftServer: TestServer;
}

export interface UpdraftTestOptions {
  /**
   * What `updraftServer` passes to `startTestServer()`: `test.use({ updraftServerOptions: { signingKeys: [pem] } })`
   * for a build with `publicKeys`, whose worker refuses unsigned plans.
   * @default {}
   */
  updraftServerOptions: TestServerOptions;
}

export const test = base.extend<UpdraftFixtures & UpdraftTestOptions>({
  updraftServerOptions: [{}, { option: true }],
  updraft: async ({ page, serviceWorkers }, use) => {
    // Set project-wide so page.route() sees every request, it makes register() a no-op: each wait
    // would time out much later saying only that nothing registered.
    if (serviceWorkers === 'block') {
      throw new Error(`updraft/playwright: this test's context blocks service workers (use: { serviceWorkers: 'block' }), so the app's worker never registers; allow them where you use the updraft fixture: test.use({ serviceWorkers: 'allow' })`);
    }
    await use(new UpdraftDriver(page));
  },
  updraftServer: async ({ updraftServerOptions }, use) => {
    const server = await startTestServer(updraftServerOptions);
    await use(server);
    await server.close();
  },
});
