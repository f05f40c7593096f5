/**
 * `updraft/client` as a web developer adding it to an app meets it, in Chromium: pages without
 * service workers or outside the scope, a second `registerUpdraft()` on one page, requests in odd
 * moments, and listeners added late. The client is bundled from app/ (`clientBundle()`) where the demo build
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

/** Publishes 2.0.0 with the prompt policy and waits until the worker staged it. */
async function stagePromptV2(h: Harness, updraft: import('./kit/index.js').UpdraftDriver) {
  const v2 = await h.publish('2.0.0', { activation: 'prompt' });
  await updraft.checkNow();
  await updraft.sync();
  await updraft.waitForState((s) => s.staged === v2.id, {}, 'v2 staged');
  return v2;
}

/** Loads the client bundle into the page and registers a second time, as a second component would. */
async function registerAgain(page: Page): Promise<void> {
  await page.addScriptTag({ content: await clientBundle() });
  await page.evaluate(() => void ((window as { second?: unknown }).second = window.UpdraftClient!.registerUpdraft()));
}

const pendingOf = (page: Page, which: 'updraft' | 'second') =>
  page.evaluate((w) => (window as unknown as Record<string, import('../app/index.js').Updraft>)[w]!.pending, which);

test('a listener that subscribes after update-ready came (a component mounting late, a second registerUpdraft()) reads it from `pending`; a withdrawal clears it', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await stagePromptV2(h, updraft);
    // The page loads while v2 waits: the worker's answer to its hello announces it, before any late subscriber.
    await page.reload();
    const ready = { release: v2.id, version: '2.0.0', policy: 'prompt' };
    await expect.poll(() => pendingOf(page, 'updraft')).toEqual(ready);
    await registerAgain(page);
    await expect.poll(() => pendingOf(page, 'second')).toEqual(ready);

    await h.rollout({ release: v1.id });
    await updraft.checkNow();
    await expect.poll(() => pendingOf(page, 'updraft')).toBeNull();
    await expect.poll(() => pendingOf(page, 'second')).toBeNull();
    await expect(page.locator('#toast')).toHaveAttribute('data-event', 'withdrawn');
  } finally {
    await h.close();
  }
});

test('two registerUpdraft() on one page: each handler gets each event once, applyUpdate() from both at once reloads the page once into the update', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    await registerAgain(page);
    await page.evaluate(() => {
      const w = window as unknown as Record<string, import('../app/index.js').Updraft> & { seen: string[] };
      w.seen = [];
      for (const which of ['updraft', 'second']) {
        for (const name of ['update-available', 'update-ready'] as const) w[which]!.on(name, (e) => w.seen.push(`${which} ${e.name}`));
      }
    });
    const v2 = await stagePromptV2(h, updraft);
    const seen = () => page.evaluate(() => (window as unknown as { seen: string[] }).seen.slice().sort());
    await expect.poll(seen).toEqual(['second update-available', 'second update-ready', 'updraft update-available', 'updraft update-ready']);

    let loads = 0;
    page.on('load', () => loads++);
    const reloaded = page.waitForEvent('load');
    await page.evaluate(() => {
      const w = window as unknown as Record<string, import('../app/index.js').Updraft>;
      void Promise.all([w.updraft!.applyUpdate(), w.second!.applyUpdate()]);
    });
    await reloaded;
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
    expect((await updraft.state()).active).toBe(v2.id);
    // The one reload was the only navigation: a second would show as a second load by now (the page rendered).
    expect(loads).toBe(1);
  } finally {
    await h.close();
  }
});

/** How `applyUpdate()` ended on the page ('resolved' or the error code), and whether the page reloaded meanwhile. */
async function applyOutcome(page: Page): Promise<{ outcome: string; reloaded: boolean }> {
  await page.evaluate(() => void ((window as { marker?: number }).marker = 1));
  const outcome = await page.evaluate(() => window.updraft!.applyUpdate().then(() => 'resolved', (e: { code?: string }) => e.code ?? String(e)));
  // The marker is gone after a reload; a reload was started before the call resolved (it runs `location.reload()` first).
  await page.waitForLoadState('load');
  const reloaded = await page.evaluate(() => (window as { marker?: number }).marker !== 1);
  return { outcome, reloaded };
}

test('applyUpdate() with nothing to apply resolves without reloading the page, online, offline and twice at once; offline it applies a staged update from the worker', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    await page.locator('#version').evaluate((el) => (el.dataset.state = 'typed by the user'));
    expect(await applyOutcome(page)).toEqual({ outcome: 'resolved', reloaded: false });
    const both = await page.evaluate(() => Promise.all([window.updraft!.applyUpdate(), window.updraft!.applyUpdate()]).then(() => 'resolved'));
    expect(both).toBe('resolved');
    await updraft.offline();
    expect(await applyOutcome(page)).toEqual({ outcome: 'resolved', reloaded: false });
    await expect(page.locator('#version')).toHaveAttribute('data-state', 'typed by the user');
    await updraft.online();
    expect((await updraft.state()).active).toBe(v1.id);

    // Staged while online, applied offline: activation needs no network, and the reload is the worker's.
    const v2 = await stagePromptV2(h, updraft);
    await updraft.offline();
    const reloaded = page.waitForEvent('load');
    void page.evaluate(() => window.updraft!.applyUpdate()).catch(() => {});
    await reloaded;
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
    await updraft.online();
  } finally {
    await h.close();
  }
});

test('applyUpdate() on a page that runs an older release than the active one (next-navigation policy) reloads it into the active release', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    const reloaded = page.waitForEvent('load');
    void page.evaluate(() => window.updraft!.applyUpdate()).catch(() => {});
    await reloaded;
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect(page.locator('#release')).toHaveText(v2.id);
  } finally {
    await h.close();
  }
});

test('checkNow() offline, against a 503 with Retry-After, and twice at once: it resolves with what happened (error transport, retry at the server\'s time, one check-in for both), never rejects', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    const checkNow = () => page.evaluate(() => window.updraft!.checkNow());
    const both = await page.evaluate(() => Promise.all([window.updraft!.checkNow(), window.updraft!.checkNow()]));
    expect(both).toEqual([{ result: 'current' }, { result: 'current' }]);
    expect(h.checkIns).toHaveLength(1);

    await updraft.offline();
    expect(await checkNow()).toEqual({ result: 'error', code: 'transport', message: expect.any(String) });
    await updraft.online();

    h.faults.add('/v1/check-in', { kind: 'status', status: 503, retryAfter: 120 });
    const before = Date.now();
    const busy = await checkNow();
    expect(busy).toEqual({ result: 'retry', retryAt: expect.any(Number) });
    const retryAt = (busy as { retryAt: number }).retryAt;
    expect(retryAt).toBeGreaterThanOrEqual(before + 119_000);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 121_000);
    // Until then the worker holds off: a second call gets the same time and asks nothing.
    const asked = h.checkIns.length;
    expect(await checkNow()).toEqual({ result: 'retry', retryAt });
    expect(h.checkIns).toHaveLength(asked);
  } finally {
    await h.close();
  }
});

test('a page open across two releases: it hears each update, `pending` follows the newest, and applyUpdate() reloads it into the newest', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[] };
      w.seen = [];
      for (const name of ['update-available', 'update-ready', 'activated', 'withdrawn'] as const) window.updraft!.on(name, (e) => w.seen.push(`${e.name} ${e.release}`));
    });
    const seen = () => page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const v2 = await stagePromptV2(h, updraft);
    await expect.poll(() => page.evaluate(() => window.updraft!.pending?.release)).toBe(v2.id);
    // The user does not apply 2.0.0; 3.0.0 comes: its plan supersedes the staged 2.0.0.
    const v3 = await h.publish('3.0.0', { activation: 'prompt' });
    await updraft.checkNow();
    await updraft.sync();
    await updraft.waitForState((s) => s.staged === v3.id, {}, 'v3 staged');
    await expect.poll(() => page.evaluate(() => window.updraft!.pending?.release)).toBe(v3.id);
    expect(await seen()).toEqual([`update-available ${v2.id}`, `update-ready ${v2.id}`, `update-available ${v3.id}`, `update-ready ${v3.id}`]);

    const reloaded = page.waitForEvent('load');
    void page.evaluate(() => window.updraft!.applyUpdate()).catch(() => {});
    await reloaded;
    await expect(page.locator('#version')).toHaveText('3.0.0');
    expect((await updraft.state()).active).toBe(v3.id);
  } finally {
    await h.close();
  }
});

test('registered before DOMContentLoaded (an inline script in <head>) and after load, on a first visit at a deep path and in a same-origin iframe: each is controlled and hears the update once', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const code = await clientBundle();
    // Runs before the document's own scripts, while it is still parsing.
    await page.addInitScript(`${code}
      window.UpdraftClient = UpdraftClient; // init scripts run in a function scope
      window.early = { readyState: document.readyState, seen: [] };
      if (window.top === window) {
        const u = UpdraftClient.registerUpdraft();
        u.on('update-ready', (e) => window.early.seen.push(e.release));
        u.controlled.then(() => (window.early.controlled = true), (e) => (window.early.controlled = String(e)));
      }`);
    const v1 = await h.publish('1.0.0');
    await page.goto(`${h.url}deep/route?tab=2`);
    await updraft.waitForRelease(v1.id);
    type Early = { readyState: string; seen: string[]; controlled?: true | string };
    const early = () => page.evaluate(() => (window as unknown as { early: Early }).early);
    await expect.poll(early).toMatchObject({ readyState: 'loading', controlled: true });
    await expect(page.locator('#version')).toHaveText('1.0.0');

    // After load: a lazily loaded component registers, and a same-origin iframe (its own page) does too.
    await page.evaluate(() => {
      const w = window as unknown as { late: string[]; lateControlled?: boolean };
      w.late = [];
      const u = window.UpdraftClient!.registerUpdraft();
      u.on('update-ready', (e) => w.late.push(e.release));
      void u.controlled.then(() => (w.lateControlled = true));
    });
    await page.evaluate((src) => new Promise<void>((resolve) => {
      const f = document.createElement('iframe');
      f.onload = () => resolve();
      f.src = src;
      document.body.append(f);
    }), `${h.url}deep/frame`);
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    await expect(frame.locator('#version')).toHaveText('1.0.0');
    await frame.evaluate(() => {
      const w = window as unknown as { seen: string[] };
      w.seen = [];
      window.updraft!.on('update-ready', (e) => w.seen.push(e.release));
    });
    const v2 = await stagePromptV2(h, updraft);
    await expect.poll(async () => (await early()).seen).toEqual([v2.id]);
    await expect.poll(() => page.evaluate(() => {
      const w = window as unknown as { late: string[]; lateControlled?: boolean };
      return { late: w.late, lateControlled: w.lateControlled };
    })).toEqual({ late: [v2.id], lateControlled: true });
    await expect.poll(() => frame.evaluate(() => (window as unknown as { seen: string[] }).seen)).toEqual([v2.id]);
    expect(await frame.evaluate(() => window.updraft!.pending?.release)).toBe(v2.id);
  } finally {
    await h.close();
  }
});

test('a page outside the scope it registers (an app built with base /app/ opened at /app): controlled and ready() reject with code internal naming the scope, instead of waiting for good', async ({ page, context }) => {
  const h = await Harness.start();
  try {
    await h.publish('1.0.0');
    const code = await clientBundle();
    const html = `<!doctype html><p id="app">app</p><script>${code.replace(/<\/script/g, '<\\/script')}</script>`;
    // The release as a build with base /app/ would lay it out: every file under /app/ (the worker's fetches too).
    await context.route(`${h.url}app/**`, (r) =>
      r.fetch({ url: r.request().url().replace(`${h.url}app/`, h.url) }).then((response) => r.fulfill({ response }), () => r.abort().catch(() => {})));
    // The host answers /app (no trailing slash) with the entry, as many static hosts do.
    await page.route(`${h.url}app`, (r) => r.fulfill({ contentType: 'text/html', body: html }));
    await page.goto(`${h.url}app`);
    const outcome = await page.evaluate(async () => {
      const updraft = window.UpdraftClient!.registerUpdraft({ scope: '/app/' });
      const settle = (p: Promise<unknown>) => Promise.race([
        p.then(() => 'resolved', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
      ]);
      const [controlled, ready] = await Promise.all([settle(updraft.controlled), settle(updraft.ready())]);
      const registration = await navigator.serviceWorker.getRegistration('/app/');
      return { controlled, ready, scope: registration?.scope, state: registration?.active?.state ?? registration?.installing?.state };
    });
    const rejected = `internal: this page (${h.url}app) is outside the service worker's scope ${h.url}app/: no worker will control it; open it under the scope`;
    expect(outcome).toEqual({ controlled: rejected, ready: rejected, scope: `${h.url}app/`, state: expect.any(String) });
    await expect(page.locator('#app')).toHaveText('app');
  } finally {
    await h.close();
  }
});
