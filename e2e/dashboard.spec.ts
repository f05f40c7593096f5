import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fakeDist, publishDirectory, writeDist } from '../server/index.js';
import { test, expect } from './kit/index.js';
import { Harness, TOKEN } from './support/harness.js';

/** POSTs JSON to the origin, as a client would. */
async function post(h: Harness, path: string, body: unknown): Promise<Response> {
  const res = await fetch(new URL(path, h.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.ok, `${path} answered ${res.status}`).toBe(true);
  return res;
}

test('the dashboard shows the figures the store holds, and a screenshot of it is saved', async ({ page, updraft, browser }) => {
  const h = await Harness.start();
  try {
    // A real client: installs 1.0.0, then updates to 2.0.0 (downloaded + activated reports).
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await updraft.waitForRelease(v1.id);
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    await page.reload();
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await expect.poll(async () => (await h.status()).reportCounts.some((r) => r.release === v2.id && r.event === 'activated')).toBe(true);
    // Its next check-in tells the server it runs 2.0.0 now.
    await updraft.checkNow();
    await expect.poll(async () => (await h.status()).clients.find((c) => c.release === v2.id)?.count).toBe(1);

    // Synthetic clients: three stay on 1.0.0 and report failures on 2.0.0, for a failure rate with reasons.
    const caps = { sync: true, periodicSync: false, swIds: true };
    const start = Date.now() - 60_000;
    const synthetic = ['synthetic-a1', 'synthetic-b2', 'synthetic-c3'];
    for (const [i, client] of synthetic.entries()) {
      await post(h, 'v1/check-in', { client, app: v1.app, channel: 'stable', release: v1.id, caps });
      await post(h, 'v1/reports', { reports: [{ client, app: v1.app, release: v1.id, event: 'activated', at: start + i * 1000 }] });
    }
    await post(h, 'v1/reports', {
      reports: [
        { client: 'synthetic-a1', app: v1.app, release: v2.id, event: 'failed', code: 'quota', at: Date.now() - 20_000 },
        { client: 'synthetic-b2', app: v1.app, release: v2.id, event: 'failed', code: 'quota', at: Date.now() - 15_000 },
        { client: 'synthetic-c3', app: v1.app, release: v2.id, event: 'failed', code: 'transport', at: Date.now() - 10_000 },
      ],
    });

    const status = await h.status();
    const channel = status.channels.find((c) => c.name === 'stable')!;
    expect(channel.release).toBe(v2.id);
    const clients = status.clients.filter((c) => c.channel === 'stable');
    const total = clients.reduce((n, c) => n + c.count, 0);
    const onTarget = clients.filter((c) => c.release === v2.id).reduce((n, c) => n + c.count, 0);
    expect(total).toBe(4);
    expect(onTarget).toBe(1);
    const count = (release: string, event: string, code?: string) =>
      status.reportCounts.filter((r) => r.release === release && r.event === event && (code === undefined || r.code === code)).reduce((n, r) => n + r.count, 0);

    // A fresh context: no service worker of the app in the way, no cookie yet.
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    try {
      const dash = await context.newPage();
      const external: string[] = [];
      dash.on('request', (r) => { if (!r.url().startsWith(h.url)) external.push(r.url()); });
      const denied = await dash.goto(new URL('v1/admin/dashboard', h.url).href);
      expect(denied?.status()).toBe(401);
      await dash.goto(new URL(`v1/admin/dashboard?token=${TOKEN}`, h.url).href);
      // Redirected to the bare URL: the token does not stay in the address bar.
      expect(new URL(dash.url()).search).toBe('');
      const card = dash.locator('section[data-channel="stable"]');
      await expect(card).toHaveAttribute('data-release', v2.id);
      await expect(card).toHaveAttribute('data-percent', String(channel.percent));
      await expect(card.locator('[data-total-clients]')).toHaveAttribute('data-total-clients', String(total));
      await expect(card.locator('[data-on-target]')).toHaveAttribute('data-on-target', String(onTarget));
      await expect(card.locator('[data-total-clients]')).toHaveText(String(total));
      for (const release of [v1.id, v2.id]) {
        for (const event of ['downloaded', 'activated', 'failed'] as const) {
          await expect(card.locator(`rect[data-release="${release}"][data-event="${event}"]`)).toHaveAttribute('data-count', String(count(release, event)));
        }
      }
      for (const code of ['quota', 'transport']) {
        await expect(card.locator(`[data-reason="${code}"]`)).toHaveAttribute('data-count', String(count(v2.id, 'failed', code)));
      }
      const failures = count(v2.id, 'failed') + count(v2.id, 'boot-failed');
      const attempts = count(v2.id, 'downloaded') + count(v2.id, 'failed');
      expect(failures).toBe(3);
      // The reports as events below the headline; the headline is the automatic pause's rate, as
      // status answers it: the two quota failures are left out, distinct clients counted.
      await expect(card.locator('[data-failures]')).toHaveAttribute('data-failures', String(failures));
      await expect(card.locator('[data-attempts]')).toHaveAttribute('data-attempts', String(attempts));
      const health = channel.health!;
      expect(health).toMatchObject({ clients: 2, failed: 1 });
      await expect(card.locator('[data-failure-rate]')).toHaveAttribute('data-failure-rate', (health.failed / health.clients).toFixed(4));
      await expect(card.locator('[data-failure-rate]')).toHaveText(`${Math.round((health.failed / health.clients) * 1000) / 10}%`);
      // Over time, now: the real client on 2.0.0, the three synthetic ones on 1.0.0.
      await expect(card.locator(`[data-series-release="${v2.id}"]`)).toHaveAttribute('data-count', '1');
      await expect(card.locator(`[data-series-release="${v1.id}"]`)).toHaveAttribute('data-count', '3');
      await expect(card.locator('svg.series rect')).not.toHaveCount(0);
      if ('paused' in channel) await expect(card.locator('[data-paused]')).toHaveAttribute('data-paused', String(channel.paused));
      expect(await dash.locator('script').count()).toBe(0);
      expect(external).toEqual([]);

      // The README's screenshot is refreshed on request only: a test run must not dirty the tree.
      const shot = process.env.UPDRAFT_UPDATE_SCREENSHOT === '1' ? 'docs/dashboard.png' : test.info().outputPath('dashboard.png');
      mkdirSync(dirname(shot), { recursive: true });
      await dash.screenshot({ path: shot, fullPage: true });
    } finally {
      await context.close();
    }
  } finally {
    await h.close();
  }
});

test('on a phone: no sideways scrolling, chart labels within their column, an odd version shown as text', async ({ browser }) => {
  const h = await Harness.start({ cdn: false });
  const dirs: string[] = [];
  try {
    // Another app than the demo's, a long odd version: what a label may hold (100 characters, markup).
    const app = 'odd-app';
    const version = `"><img src=x onerror=alert(1)><script>alert(2)</script>-beta+${'x'.repeat(39)}`;
    expect(version).toHaveLength(100);
    const dist = await fakeDist({ 'index.html': '<h1>odd</h1>' }, { app, version, sw: 'self.x = 1' });
    const dir = mkdtempSync(join(tmpdir(), 'updraft-dash-'));
    dirs.push(dir);
    await writeDist(dir, dist);
    await publishDirectory(dir, { channel: 'stable', server: h.url, token: TOKEN });
    const caps = { sync: true, periodicSync: false, swIds: true };
    await post(h, 'v1/check-in', { client: 'phone-client-1', app, channel: 'stable', release: dist.manifest.id, caps });
    await post(h, 'v1/reports', { reports: [{ client: 'phone-client-1', app, release: dist.manifest.id, event: 'activated', at: Date.now() - 1000 }] });
    // A second channel of the app with a client of its own: each channel's chart counts its own.
    const beta = await fetch(new URL(`v1/admin/channels/beta?app=${app}`, h.url), {
      method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ release: dist.manifest.id }),
    });
    expect(beta.status).toBe(200);
    await post(h, 'v1/check-in', { client: 'phone-client-2', app, channel: 'beta', release: dist.manifest.id, caps });
    await post(h, 'v1/reports', { reports: [{ client: 'phone-client-2', app, release: dist.manifest.id, event: 'activated', at: Date.now() - 1000 }] });
    const clients = (await h.status()).clients;

    const context = await browser.newContext({ viewport: { width: 390, height: 800 } });
    try {
      const dash = await context.newPage();
      const problems: string[] = [];
      dash.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
      dash.on('pageerror', (e) => problems.push(String(e)));
      dash.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
      await dash.goto(new URL(`v1/admin/dashboard?token=${TOKEN}`, h.url).href);
      const card = dash.locator(`section[data-app="${app}"][data-channel="stable"]`);
      await expect(card).toHaveAttribute('data-release', dist.manifest.id);
      await expect(card.locator('table')).toContainText(version);
      for (const channel of ['stable', 'beta']) {
        const inStore = clients.filter((c) => c.channel === channel && c.release === dist.manifest.id).reduce((n, c) => n + c.count, 0);
        expect(inStore).toBe(1);
        await expect(dash.locator(`section[data-app="${app}"][data-channel="${channel}"] [data-series-release="${dist.manifest.id}"]`)).toHaveAttribute('data-count', String(inStore));
      }
      await expect(dash.locator('img')).toHaveCount(0);
      expect(await dash.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      // Each release label of the counts chart ends before its bars begin.
      const overlaps = await card.locator('svg.counts').evaluate((svg) => {
        const bars = [...svg.querySelectorAll('rect')].map((r) => r.getBoundingClientRect().left);
        const start = Math.min(...bars);
        return [...svg.querySelectorAll(':scope > text')].filter((t) => t.getBoundingClientRect().left < start && t.getBoundingClientRect().right > start).map((t) => t.textContent);
      });
      expect(overlaps).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  } finally {
    await h.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('after a roll back, with two apps and a channel no client is on, every figure matches the store', async ({ browser }) => {
  const h = await Harness.start({ cdn: false });
  const dirs: string[] = [];
  const publish = async (app: string, version: string, channel: string) => {
    const dist = await fakeDist({ 'index.html': `<h1>${app} ${version}</h1>` }, { app, version, sw: 'self.x = 1' });
    const dir = mkdtempSync(join(tmpdir(), 'updraft-dash-'));
    dirs.push(dir);
    await writeDist(dir, dist);
    await publishDirectory(dir, { channel, server: h.url, token: TOKEN });
    return dist.manifest.id;
  };
  const admin = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(path, h.url), { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    expect(res.status, path).toBe(200);
    return res.json() as Promise<unknown>;
  };
  try {
    const caps = { sync: true, periodicSync: false, swIds: true };
    const a1 = await publish('alpha', '1.0.0', 'stable');
    const a2 = await publish('alpha', '2.0.0', 'stable');
    await publish('alpha', '0.9.0-nightly', 'nightly');
    const b1 = await publish('bravo', '1.0.0', 'stable');
    const at = Date.now() - 1000;
    // alpha: four clients took 2.0.0, two of them failed on it and went back; then a roll back to 1.0.0.
    for (const [i, client] of ['alpha-c-0001', 'alpha-c-0002', 'alpha-c-0003', 'alpha-c-0004'].entries()) {
      const reports: object[] = [{ client, app: 'alpha', release: a1, event: 'activated', at }, { client, app: 'alpha', release: a2, event: 'downloaded', at }, { client, app: 'alpha', release: a2, event: 'activated', at }];
      if (i < 2) reports.push({ client, app: 'alpha', release: a2, event: 'boot-failed', code: 'boot_failed', at });
      await post(h, 'v1/reports', { reports });
      await post(h, 'v1/check-in', { client, app: 'alpha', channel: 'stable', release: i < 2 ? a1 : a2, caps });
    }
    await post(h, 'v1/reports', { reports: [{ client: 'alpha-c-0005', app: 'alpha', release: a1, event: 'activated', at }, { client: 'alpha-c-0005', app: 'alpha', release: a2, event: 'failed', code: 'content', at }] });
    await post(h, 'v1/check-in', { client: 'alpha-c-0005', app: 'alpha', channel: 'stable', release: a1, caps });
    await admin('v1/admin/channels/stable?app=alpha', { method: 'PUT', body: JSON.stringify({ release: a1, paused: true, pausedReason: 'boot failures on 2.0.0' }) });
    // bravo: one client.
    await post(h, 'v1/reports', { reports: [{ client: 'bravo-c-0001', app: 'bravo', release: b1, event: 'activated', at }] });
    await post(h, 'v1/check-in', { client: 'bravo-c-0001', app: 'bravo', channel: 'stable', release: b1, caps });

    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    try {
      const dash = await context.newPage();
      await dash.goto(new URL(`v1/admin/dashboard?token=${TOKEN}`, h.url).href);
      let cards = 0;
      for (const app of ['alpha', 'bravo']) {
        const status = await admin(`v1/admin/status?app=${app}`) as Awaited<ReturnType<Harness['status']>>;
        for (const channel of status.channels) {
          cards++;
          const card = dash.locator(`section[data-app="${app}"][data-channel="${channel.name}"]`);
          await expect(card).toHaveAttribute('data-release', channel.release);
          await expect(card).toHaveAttribute('data-percent', String(channel.percent));
          await expect(card.locator('[data-paused]')).toHaveAttribute('data-paused', String(channel.paused));
          const clients = status.clients.filter((c) => c.channel === channel.name);
          const total = clients.reduce((n, c) => n + c.count, 0);
          await expect(card.locator('[data-total-clients]')).toHaveAttribute('data-total-clients', String(total));
          await expect(card.locator('[data-on-target]')).toHaveAttribute('data-on-target', String(clients.filter((c) => c.release === channel.release).reduce((n, c) => n + c.count, 0)));
          for (const c of clients) {
            await expect(card.locator(`tr[data-clients-release="${c.release ?? ''}"]`)).toHaveAttribute('data-count', String(c.count));
            // Every client here reported what it runs: the chart's latest column is the check-ins' count.
            await expect(card.locator(`[data-series-release="${c.release}"]`)).toHaveAttribute('data-count', String(c.count));
          }
          if (total === 0) {
            await expect(card.locator('[data-clients-empty]')).toBeVisible();
            await expect(card.locator('[data-series-empty]')).toBeVisible();
          }
          const count = (release: string, event: string) => status.reportCounts.filter((r) => r.release === release && r.event === event).reduce((n, r) => n + r.count, 0);
          for (const rect of await card.locator('svg.counts rect').all()) {
            const release = (await rect.getAttribute('data-release'))!;
            const event = (await rect.getAttribute('data-event'))!.replace('bootFailed', 'boot-failed');
            expect(await rect.getAttribute('data-count'), `${app}/${channel.name} ${release} ${event}`).toBe(String(count(release, event)));
          }
          const attempts = count(channel.release, 'downloaded') + count(channel.release, 'failed');
          const failures = count(channel.release, 'failed') + count(channel.release, 'boot-failed');
          await expect(card.locator('[data-failures]')).toHaveAttribute('data-failures', String(failures));
          await expect(card.locator('[data-attempts]')).toHaveAttribute('data-attempts', String(attempts));
          // The headline: the automatic pause's rate, as status has it.
          const health = channel.health!;
          await expect(card.locator('[data-failure-rate]')).toHaveAttribute('data-failure-rate', health.clients ? (health.failed / health.clients).toFixed(4) : '');
        }
      }
      expect(cards).toBe(3);
      const alpha = dash.locator('section[data-app="alpha"][data-channel="stable"]');
      await expect(alpha.locator('[data-paused="true"]')).toHaveText('paused: boot failures on 2.0.0');
      await expect(alpha.locator(`[data-rolled-back-from="${a2}"]`)).toHaveText('rolled back from 2.0.0 #2');
      // The roll back's target has its reports; the release rolled back from keeps its own, failures included.
      await expect(alpha.locator(`rect[data-release="${a2}"][data-event="bootFailed"]`)).toHaveAttribute('data-count', '2');
      await expect(alpha.locator(`rect[data-release="${a2}"][data-event="failed"]`)).toHaveAttribute('data-count', '1');
      await expect(dash.locator('section[data-app="alpha"][data-channel="nightly"] [data-clients-empty]')).toBeVisible();
    } finally {
      await context.close();
    }
  } finally {
    await h.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
