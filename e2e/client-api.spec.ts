/**
 * `updraft/client` as a web developer adding it to an app meets it, in Chromium: pages without
 * service workers, a second `registerUpdraft()` on one page, requests in odd moments, and
 * listeners added late. The client is bundled from app/ (`clientBundle()`) where the demo build
 * does not make the page.
 */
import type { Frame, Page } from '@playwright/test';
import { test, expect } from './kit/index.js';
import { clientBundle } from './support/client-bundle.js';
import { visitV1 } from './support/fault-kit.js';
import { Harness } from './support/harness.js';

declare global {
  interface Window {
    UpdraftClient?: typeof import('../app/index.js');
  }
}

/** What a page without service workers gets from `registerUpdraft()`: each step's outcome as text. */
async function registerWithoutWorkers(target: Page | Frame): Promise<Record<string, string>> {
  await target.addScriptTag({ content: await clientBundle() });
  return target.evaluate(async (): Promise<Record<string, string>> => {
    const outcome = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { name?: string; code?: string }) => `${e.name}:${e.code}`);
    let updraft: import('../app/index.js').Updraft;
    try {
      updraft = window.UpdraftClient!.registerUpdraft();
    } catch (e) {
      return { register: `threw ${String(e)}` };
    }
    const message = await updraft.controlled.catch((e: Error) => e.message);
    return {
      register: 'returned',
      workbox: String(updraft.workbox),
      controlled: await outcome(updraft.controlled),
      message: String(message),
      checkNow: await outcome(updraft.checkNow()),
      applyUpdate: await outcome(updraft.applyUpdate()),
      release: await outcome(updraft.release()),
      ready: await outcome(updraft.ready()),
      off: typeof updraft.on('update-ready', () => {}),
    };
  });
}

test('without service workers (plain http, a sandboxed iframe) registerUpdraft() returns; controlled and every request reject with code internal, saying why', async ({ page }) => {
  const expected = {
    register: 'returned', workbox: 'null', controlled: 'UpdraftError:internal', checkNow: 'UpdraftError:internal',
    applyUpdate: 'UpdraftError:internal', release: 'UpdraftError:internal', ready: 'UpdraftError:internal', off: 'function',
  };
  // An http origin that is not localhost is no secure context: `navigator.serviceWorker` is missing.
  await page.route('http://insecure.example/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><p id="app">app</p>' }));
  await page.goto('http://insecure.example/');
  expect(await page.evaluate(() => [isSecureContext, 'serviceWorker' in navigator])).toEqual([false, false]);
  const insecure = await registerWithoutWorkers(page);
  expect(insecure).toEqual({ ...expected, message: expect.stringContaining('not a secure context') });
  await expect(page.locator('#app')).toHaveText('app');

  // A sandboxed iframe without allow-same-origin has the property, but reading it throws a SecurityError.
  await page.route('http://localhost/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><iframe sandbox="allow-scripts" srcdoc="<p>widget</p>"></iframe>' }));
  await page.goto('http://localhost/');
  const frame = page.frames().find((f) => f !== page.mainFrame())!;
  await expect.poll(() => frame.evaluate(() => document.readyState)).toBe('complete');
  expect(await frame.evaluate(() => [isSecureContext, 'serviceWorker' in navigator])).toEqual([true, true]);
  const sandboxed = await registerWithoutWorkers(frame);
  expect(sandboxed).toEqual({ ...expected, message: expect.stringContaining('sandboxed') });
});
