import { readFileSync } from 'node:fs';
import { test, expect } from './kit/index.js';
import { Harness } from './support/harness.js';
import { E2E_KEY_BASE, buildDir } from './support/builds.js';

// The kit's own promises: its timeouts hold even when the page has no service worker, and its
// errors say what was awaited. A page of the harness's origin before anything is published has
// no worker (nothing serves sw.js), which is what a test that forgot to publish sees.

test.describe('on a page no service worker controls', () => {
  // Before the kit bounded its wait for `navigator.serviceWorker.ready`, these hung until the
  // test timeout: keep that short so a regression fails in seconds, not in a minute.
  test.setTimeout(20_000);

  test('waitForRelease, state and message reject within their timeout, saying what they awaited', async ({ page, updraft }) => {
    const h = await Harness.start({ cdn: false });
    try {
      await page.goto(h.url);
      expect(await page.evaluate(() => navigator.serviceWorker.getRegistration())).toBeUndefined();
      const started = Date.now();
      await expect(updraft.waitForRelease('0123456789abcdef', { timeout: 2_000 })).rejects.toThrow(
        /timed out after 2000 ms waiting for release 0123456789abcdef to be active; last: .*no service worker is registered for http:\/\/127\.0\.0\.1:\d+\/ within (19\d\d|2000) ms/,
      );
      // The documented timeout is the bound, give or take one poll: not the test's 20 s.
      expect(Date.now() - started).toBeLessThan(6_000);
      await expect(updraft.state({ timeout: 1_000 })).rejects.toThrow(/no service worker is registered for .* within 1000 ms \(awaiting navigator\.serviceWorker\.ready for the debug state\)/);
      await expect(updraft.message({ type: 'updraft:check-now' }, { timeout: 1_000 })).rejects.toThrow(/no service worker is registered for .* within 1000 ms \(awaiting navigator\.serviceWorker\.ready for updraft:check-now\)/);
    } finally {
      await h.close();
    }
  });

  test('waitForActivated rejects within its timeout, saying it awaited a controller and what the page had', async ({ page, updraft }) => {
    const h = await Harness.start({ cdn: false });
    try {
      await page.goto(h.url);
      const started = Date.now();
      await expect(updraft.waitForActivated({ timeout: 2_000 })).rejects.toThrow(
        /timed out after 2000 ms waiting for a service worker to control the page; last: \{"controller":null,"registration":null\}/,
      );
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await h.close();
    }
  });
});

test('updateTo(v1) with v1 active passes at once even when the server offers v2, and starts no plan', async ({ page, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    await h.publish('2.0.0');
    const checkIns = h.traffic.count('/v1/check-in');
    const state = await updraft.updateTo(v1.id);
    expect(state.active).toBe(v1.id);
    // No check-in went out, so the worker learnt nothing of v2 and has no plan towards it.
    expect(h.traffic.count('/v1/check-in')).toBe(checkIns);
    expect((await updraft.state()).plan?.to ?? null).not.toBe(h.manifest('2.0.0').id);
  } finally {
    await h.close();
  }
});

test.describe('the updraftServer fixture with updraftServerOptions', () => {
  // Every e2e build trusts E2E_KEY_BASE's public key (`publicKeys`): its worker refuses unsigned plans.
  test.use({ updraftServerOptions: { signingKeys: [readFileSync(`${E2E_KEY_BASE}.key`, 'utf8')], token: 'fixture-token' } });

  test('signs plans for a build with publicKeys, so the first install and an update land', async ({ page, updraft, updraftServer }) => {
    expect(updraftServer.token).toBe('fixture-token');
    await updraftServer.publish(buildDir('1.0.0'));
    await page.goto(updraftServer.url);
    const first = await updraft.waitForActivated();
    const v2 = await updraftServer.publish(buildDir('2.0.0'));
    expect(first.active).not.toBe(v2.id);
    expect((await updraft.updateTo(v2.id)).active).toBe(v2.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
  });
});
