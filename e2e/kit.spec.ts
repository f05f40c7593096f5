import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { test, expect, UpdraftDriver } from './kit/index.js';
import { Harness } from './support/harness.js';
import { visitV1 } from './support/fault-kit.js';
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

test('updateTo\'s timeout bounds the whole move, and its error names that timeout, the release and the plan', async ({ page, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    // v2's page never arrives, so the plan cannot finish: the move runs out of time mid-download.
    h.faults.add(v2.assets.find((a) => a.path === 'index.html')!.sha256, { kind: 'hang', times: Infinity });
    await expect(updraft.updateTo(v2.id, { timeout: 3_000 })).rejects.toThrow(
      new RegExp(`timed out after 3000 ms waiting for release ${v2.id} to be active; last: .*"plan":\\{"planId":"[^"]+","from":"${v1.id}","to":"${v2.id}"`),
    );
    expect((await updraft.state()).active).toBe(v1.id);
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

interface ProbeOrigin {
  url: string;
  tags: string[];
  close(): Promise<void>;
}

/** A plain origin whose worker reports each sync event it gets to `/synced?tag=`, which it records. */
async function syncProbeOrigin(port: number): Promise<ProbeOrigin> {
  const tags: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/sw.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(`self.addEventListener('sync', (e) => e.waitUntil(fetch('/synced?tag=' + e.tag)));`);
    } else if (url.pathname === '/synced') {
      tags.push(url.searchParams.get('tag') ?? '');
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><script>navigator.serviceWorker.register('/sw.js')</script>`);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/`, tags, close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // The open page may still hold a connection: close() alone would wait for it.
        server.closeAllConnections();
      }),
  };
}

test('sync() reaches this origin\'s worker, not one on a port its port is a prefix of', async ({ page, updraft }) => {
  // Ports P and P·10+1 (http://127.0.0.1:4000 and :40001): the second's scope starts with the
  // first's origin. P is at most 6553 so both are valid; try a few in case one is taken.
  let pair: [ProbeOrigin, ProbeOrigin] | null = null;
  for (let attempt = 0; !pair && attempt < 20; attempt++) {
    const p = 2000 + Math.floor(Math.random() * 4500);
    const short = await syncProbeOrigin(p).catch(() => null);
    const long = short && (await syncProbeOrigin(p * 10 + 1).catch(() => null));
    if (short && long) pair = [short, long];
    else await short?.close();
  }
  if (!pair) throw new Error('no free pair of ports P and P*10+1');
  const [short, long] = pair;
  try {
    // The longer port's registration first, so the driver has seen it before the other exists.
    await page.goto(long.url);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await updraft.sync('long');
    await page.goto(short.url);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await updraft.sync('short');
    await expect.poll(() => short.tags).toEqual(['short']);
    expect(long.tags).toEqual(['long']);
  } finally {
    await short.close();
    await long.close();
  }
});

/**
 * An origin with two workers, as an app with a push or messaging worker of its own has: one at
 * `/push/` (registered first) and the app's at `/`. Each reports the sync events it gets to
 * `/synced?tag=&by=`, which the origin records as `by:tag`.
 */
async function twoWorkerOrigin(): Promise<ProbeOrigin> {
  const tags: string[] = [];
  const worker = (by: string) => `self.addEventListener('sync', (e) => e.waitUntil(fetch('/synced?by=${by}&tag=' + e.tag)));`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/push/sw.js' || url.pathname === '/sw.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(worker(url.pathname === '/sw.js' ? 'app' : 'push'));
    } else if (url.pathname === '/synced') {
      tags.push(`${url.searchParams.get('by')}:${url.searchParams.get('tag')}`);
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      // `?only=push`: the push worker alone, so `/` has no worker.
      res.end(`<!doctype html><script>
        window.registered = navigator.serviceWorker.register('/push/sw.js', { scope: '/push/' })
          .then((push) => location.search === '?only=push' ? push : navigator.serviceWorker.register('/sw.js'))
          .then(() => true);
      </script>`);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, tags, close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

test('sync() reaches the worker whose scope covers the page, not the one of the origin that registered first', async ({ page, updraft }) => {
  const origin = await twoWorkerOrigin();
  try {
    await page.goto(origin.url);
    await page.waitForFunction(() => (window as { registered?: Promise<boolean> }).registered);
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map((r) => new URL(r.scope).pathname).sort())).toEqual(['/', '/push/']);
    await updraft.sync('at-root');
    await expect.poll(() => origin.tags).toEqual(['app:at-root']);
    // Under /push/ the longer scope covers the page, as it would control it.
    await page.goto(`${origin.url}push/inbox`);
    await updraft.sync('under-push');
    await expect.poll(() => origin.tags).toEqual(['app:at-root', 'push:under-push']);
  } finally {
    await origin.close();
  }
});

test('sync() on a page no registration covers rejects naming the page and the scopes its origin has', async ({ page, updraft }) => {
  const origin = await twoWorkerOrigin();
  try {
    await page.goto(`${origin.url}?only=push`);
    await page.waitForFunction(() => (window as { registered?: Promise<boolean> }).registered);
    await expect(updraft.sync()).rejects.toThrow(`updraft/playwright: no service worker registration covers the page (${origin.url}?only=push); http://127.0.0.1:`);
    await expect(updraft.periodicSync()).rejects.toThrow(/ has http:\/\/127\.0\.0\.1:\d+\/push\/$/);
    expect(origin.tags).toEqual([]);
    await page.goto('about:blank');
    await expect(updraft.sync()).rejects.toThrow(/^updraft\/playwright: no service worker registration covers the page \(about:blank\)$/);
  } finally {
    await origin.close();
  }
});

test.describe('on about:blank (before the goto, or a page that left the app)', () => {
  test.setTimeout(20_000);

  test('state, message, waitForRelease and waitForActivated say the page has no navigator.serviceWorker, not a TypeError', async ({ page, updraft }) => {
    expect(page.url()).toBe('about:blank');
    const blank = /about:blank has no navigator\.serviceWorker \(not (the app|a secure context)\): go to the app first/;
    await expect(updraft.state()).rejects.toThrow(blank);
    await expect(updraft.message({ type: 'updraft:check-now' })).rejects.toThrow(blank);
    await expect(updraft.waitForRelease('0123456789abcdef', { timeout: 1_000 })).rejects.toThrow(
      new RegExp(`timed out after 1000 ms waiting for release 0123456789abcdef to be active; last: Error: .*${blank.source}`),
    );
    await expect(updraft.waitForActivated({ timeout: 1_000 })).rejects.toThrow(
      new RegExp(`timed out after 1000 ms waiting for a service worker to control the page; last: ${blank.source}`),
    );
  });
});

test.describe('offline() and online() after stopWorker()', () => {
  // A stopped worker held context.setOffline until the test's timeout: keep it short.
  test.setTimeout(30_000);

  test('apply from a page that left the app and from a new tab, instead of hanging', async ({ page, context, updraft }) => {
    const h = await Harness.start({ cdn: false });
    try {
      await visitV1(page, updraft, h);
      await updraft.stopWorker();
      await page.goto('about:blank');
      await updraft.offline();
      // Offline indeed: the worker serves the app, and its check-in cannot reach the server.
      await page.goto(h.url);
      await expect(page.locator('#version')).toHaveText('1.0.0');
      expect(await updraft.checkNow()).toEqual({ result: 'error', code: 'transport', message: expect.any(String) });
      await updraft.stopWorker();
      await page.goto('about:blank');
      await updraft.online();
      await page.goto(h.url);
      expect(await updraft.checkNow()).toEqual({ result: 'current' });

      await updraft.stopWorker();
      const tab = new UpdraftDriver(await context.newPage());
      await tab.offline();
      expect(await updraft.checkNow()).toEqual({ result: 'error', code: 'transport', message: expect.any(String) });
      await updraft.stopWorker();
      await tab.online();
      expect(await updraft.checkNow()).toEqual({ result: 'current' });
    } finally {
      await h.close();
    }
  });
});

test('a wait whose page closes rejects at once saying so, instead of polling the closed page until its timeout', async ({ context, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    const tab = await context.newPage();
    const driver = new UpdraftDriver(tab);
    const v1 = await h.publish('1.0.0');
    await tab.goto(h.url);
    await driver.waitForRelease(v1.id);
    const waiting = driver.waitForRelease('0123456789abcdef', { timeout: 30_000 });
    await tab.close();
    const started = Date.now();
    await expect(waiting).rejects.toThrow('updraft/playwright: the page closed while waiting for release 0123456789abcdef to be active');
    expect(Date.now() - started).toBeLessThan(2_000);
    // The test's own page and driver are untouched.
    expect(updraft.page.isClosed()).toBe(false);
  } finally {
    await h.close();
  }
});

test.describe('in a context that blocks service workers (use: { serviceWorkers: \'block\' })', () => {
  // Teams set it project-wide so page.route() sees every request; the worker then never registers.
  test.use({ serviceWorkers: 'block' });
  test.setTimeout(20_000);
  const BLOCKED = "updraft/playwright: this test's context blocks service workers (use: { serviceWorkers: 'block' }), so the app's worker never registers; allow them where you use the updraft fixture: test.use({ serviceWorkers: 'allow' })";

  // The fixture's setup is what fails: expected, when its error is exactly that one (Playwright
  // reports it as `Error: <message>`).
  test.afterEach(({}, testInfo) => {
    if (testInfo.errors.length === 1 && testInfo.errors[0]!.message === `Error: ${BLOCKED}`) testInfo.expectedStatus = 'failed';
  });

  test('the updraft fixture fails at once saying so and how to allow them, instead of each wait timing out with nothing registered', async ({ updraft }) => {
    throw new Error(`the updraft fixture was set up for ${updraft.page.url()}`);
  });
});

// Traces: the config records one for every test (`trace: 'retain-on-failure'`), beside the kit's CDP session.
test.describe('beside the user\'s own routes', () => {
  test('waits and updateTo work under page.route() and context.route() of every request; a check-in faked by context.route() fails updateTo with the worker\'s answer', async ({ page, context, updraft }) => {
    const h = await Harness.start({ cdn: false });
    try {
      const seenByPage: string[] = [];
      await page.route('**/*', (route) => {
        seenByPage.push(new URL(route.request().url()).pathname);
        return route.continue();
      });
      await context.route('**/*', (route) => route.continue());
      const v1 = await h.publish('1.0.0');
      await page.goto(h.url);
      expect((await updraft.waitForActivated()).active).toBe(v1.id);
      const v2 = await h.publish('2.0.0');
      expect((await updraft.updateTo(v2.id)).active).toBe(v2.id);
      await page.reload();
      await expect(page.locator('#version')).toHaveText('2.0.0');
      // The worker's own requests are not the page's: page.route() never saw a check-in.
      expect(seenByPage).not.toContain('/v1/check-in');

      await context.route('**/v1/check-in', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"fake":true}' }));
      const v3 = await h.publish('3.0.0');
      await expect(updraft.updateTo(v3.id)).rejects.toThrow(`updraft/playwright: the check-in did not offer ${v3.id}: {"result":"error","code":"invalid_body"`);
      expect((await updraft.state()).active).toBe(v2.id);
    } finally {
      await h.close();
    }
  });
});

test('stopWorker() resolves once the worker has stopped, not when the stop was only asked for', async ({ page, context, updraft }) => {
  const h = await Harness.start({ cdn: false });
  try {
    await visitV1(page, updraft, h);
    // A CDP session of the test's own: the worker's running status as Chromium reports it.
    const cdp = await context.newCDPSession(page);
    const seen: string[] = [];
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
      for (const v of e.versions) if (v.status === 'activated') seen.push(v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    for (let i = 0; i < 5; i++) {
      await updraft.state(); // the worker runs
      await expect.poll(() => seen.at(-1), { message: `round ${i}: running` }).toBe('running');
      seen.length = 0;
      await updraft.stopWorker();
      // Had the stop only been asked for, this session would not have heard `stopped` yet.
      expect(seen, `round ${i}`).toContain('stopped');
    }
  } finally {
    await h.close();
  }
});
