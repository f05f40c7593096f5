import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StatusResponse } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { DASHBOARD_COOKIE, SERIES_REPORTS, channelViews, clientSeries, renderDashboard } from './dashboard.js';
import { fakeDist } from './fake-dist.js';
import { formatStatus } from './status-format.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'dash-secret-token';
const NOW = 1_700_000_000_000;
const URL_ = 'http://localhost/v1/admin/dashboard';

async function setup(token: string | undefined = TOKEN) {
  const { dir, store } = tempStore({ prefix: 'updraft-dash-' });
  const app = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token, now: () => NOW });
  const v1 = (await fakeDist({ 'index.html': '<h1>v1</h1>' }, { version: '1.0.0' })).manifest;
  const v2 = (await fakeDist({ 'index.html': '<h1>v2</h1>' }, { version: '2.0.0' })).manifest;
  await store.insertRelease(v1, NOW - 10_000);
  await store.putChannel('demo', 'stable', { release: v1.id }, NOW - 10_000);
  await store.insertRelease(v2, NOW - 5_000);
  await store.putChannel('demo', 'stable', { release: v2.id, percent: 50 }, NOW - 5_000);
  const caps = { sync: true, periodicSync: false, swIds: true };
  const client = (id: string, release: string | null) => store.upsertClient({ id, app: 'demo', channel: 'stable', release, staged: null, caps, lastSeen: NOW });
  await client('client-aaaa', v2.id);
  await client('client-bbbb', v1.id);
  await client('client-cccc', v1.id);
  const r = (client: string, release: string, event: 'downloaded' | 'activated' | 'failed' | 'boot-failed', at: number, code?: 'quota' | 'transport' | 'boot_failed') =>
    ({ client, app: 'demo', release, event, at, ...(code ? { code } : {}) });
  await store.insertReports([
    r('client-aaaa', v1.id, 'activated', NOW - 9_000), r('client-bbbb', v1.id, 'activated', NOW - 8_000), r('client-cccc', v1.id, 'activated', NOW - 8_000),
    r('client-aaaa', v2.id, 'downloaded', NOW - 4_000), r('client-aaaa', v2.id, 'activated', NOW - 3_000),
    r('client-bbbb', v2.id, 'failed', NOW - 2_000, 'quota'), r('client-cccc', v2.id, 'failed', NOW - 2_000, 'transport'),
    r('client-cccc', v2.id, 'failed', NOW - 1_000, 'quota'),
  ], NOW);
  return { app, store, v1, v2 };
}

const bearer = { Authorization: `Bearer ${TOKEN}` };

describe('dashboard auth', () => {
  it('401 with a login form without credentials, with a wrong bearer, a wrong cookie or a wrong ?token=', async () => {
    const { app } = await setup();
    const attempts: RequestInit[] = [{}, { headers: { Authorization: 'Bearer nope' } }, { headers: { Cookie: `${DASHBOARD_COOKIE}=${TOKEN}` } }];
    for (const init of attempts) {
      const res = await app.request(URL_, init);
      expect(res.status).toBe(401);
      const html = await res.text();
      expect(html).toContain('<form method="post"');
      expect(html).not.toContain('data-channel');
    }
    const wrong = await app.request(`${URL_}?token=nope`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('401 for everyone when the server has no token', async () => {
    const { app } = await setup(undefined);
    expect((await app.request(`${URL_}?token=`)).status).toBe(401);
    expect((await app.request(URL_, { headers: { Authorization: 'Bearer x' } })).status).toBe(401);
  });

  it('?token= sets an HttpOnly SameSite=Strict cookie (not the token) and redirects to the bare URL; the cookie then opens the page', async () => {
    const { app } = await setup();
    const res = await app.request(`${URL_}?token=${TOKEN}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/v1/admin/dashboard');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/v1\/admin\/dashboard/);
    expect(cookie).not.toContain(TOKEN);
    const pair = cookie.split(';')[0]!;
    const ok = await app.request(URL_, { headers: { Cookie: `other=1; ${pair}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('data-channel="stable"');
    // The cookie does not open the JSON admin API: that stays bearer-only.
    expect((await app.request('http://localhost/v1/admin/status', { headers: { Cookie: pair } })).status).toBe(401);
  });

  it('the login form posts the token', async () => {
    const { app } = await setup();
    const form = (token: string) => app.request(URL_, { method: 'POST', body: new URLSearchParams({ token }) });
    expect((await form('nope')).status).toBe(401);
    const res = await form(TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/^updraft_dashboard=/);
  });
});

describe('dashboard content', () => {
  it('shows rollout progress, counts, failure rate and reasons, and clients over time; CSP allows no script', async () => {
    const { app, v1, v2 } = await setup();
    const res = await app.request(URL_, { headers: bearer });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).not.toMatch(/<script|\bon\w+=|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain(`data-channel="stable" data-app="demo" data-release="${v2.id}" data-percent="50"`);
    expect(html).toContain('data-on-target="1"');
    expect(html).toContain('data-total-clients="3"');
    expect(html).toContain(`data-release="${v2.id}" data-event="downloaded" data-count="1"`);
    expect(html).toContain(`data-release="${v2.id}" data-event="activated" data-count="1"`);
    expect(html).toContain(`data-release="${v2.id}" data-event="failed" data-count="3"`);
    expect(html).toContain(`data-release="${v1.id}" data-event="activated" data-count="3"`);
    // The headline is the automatic pause's rate (as `updraft status` prints it): client-cccc's
    // transport failure counted once, client-bbbb's quota failure left out: 1 of 2 clients.
    expect(html).toContain('data-failure-rate="0.5000">50%</span>');
    expect(html).toContain('data-failure-rate-clients="2" data-failure-rate-failed="1"');
    // The events below it: 3 failures over 1 download + 3 failed attempts, every code.
    expect(html).toContain('<span data-failures="3">3</span> failed or boot-failed of <span data-attempts="4">4</span>');
    expect(html).toContain('data-reason="quota" data-count="2"');
    expect(html).toContain('data-reason="transport" data-count="1"');
    expect(html).toContain(`data-series-release="${v1.id}" data-count="2"`);
    expect(html).toContain(`data-series-release="${v2.id}" data-count="1"`);
    expect(html).toContain('<svg class="series"');
    // Its time axis to the second, in UTC: these reports span ten seconds.
    expect(html).toContain('>2023-11-14 22:13:11 UTC</text>');
    expect(html).toContain('data-paused="false"');
    // Withdrawals (protocol 0.5) appear once some were reported.
    expect(html).not.toContain('data-event="dropped"');
    // What the automatic pause acts on, beside the event counts: distinct clients since the channel
    // last started offering v2, a quota failure left out (client-bbbb), client-cccc's transport
    // failure counted once. 1 of 2, under the default 20 % of 20.
    expect(html).toContain('data-auto-pause="on" data-auto-pause-failed="1" data-auto-pause-clients="2"');
    expect(html).toContain('it pauses the channel at 20% once 20 clients have reported');
  });

  it('says when the automatic pause is off', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-dash-' });
    const app = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN, now: () => NOW, autoPause: false });
    const v1 = (await fakeDist({ 'index.html': '1' })).manifest;
    await store.insertRelease(v1, NOW);
    await store.putChannel('demo', 'stable', { release: v1.id }, NOW);
    const html = await (await app.request(URL_, { headers: bearer })).text();
    expect(html).toContain('data-auto-pause="off"');
    expect(html).not.toContain('data-auto-pause-failed');
  });

  it('counts withdrawals: devices that dropped a release after a pause or a roll back', async () => {
    const { app, store, v2 } = await setup();
    await store.insertReports([{ client: 'client-dddd', app: 'demo', release: v2.id, event: 'dropped', at: NOW - 500 }], NOW);
    const html = await (await app.request(URL_, { headers: bearer })).text();
    expect(html).toContain(`data-release="${v2.id}" data-event="dropped" data-count="1"`);
    expect(html).toContain('dropped</span>'); // in the legend
  });

  it('escapes what it shows', async () => {
    const { app, store, v2 } = await setup();
    await store.insertReports([{ client: 'client-dddd', app: 'demo', release: v2.id, event: 'failed', code: 'content', message: '<script>x</script>', at: NOW }], NOW);
    const html = await (await app.request(URL_, { headers: bearer })).text();
    expect(html).not.toContain('<script>');
  });
});

describe('report times', () => {
  it('a report whose time no Date can hold is refused (400); one stored before that rule still leaves the dashboard and the status readable', async () => {
    const { app, store, v2 } = await setup();
    const report = { client: 'client-dddd', app: 'demo', release: v2.id, event: 'activated', at: 1e16 };
    const refused = await app.request('http://localhost/v1/reports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reports: [report] }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_body');
    // As an older server stored it.
    await store.insertReports([report as Parameters<typeof store.insertReports>[0][number]], NOW);
    const page = await app.request(URL_, { headers: bearer });
    expect(page.status).toBe(200);
    const status = await (await app.request('http://localhost/v1/admin/status', { headers: bearer })).json();
    expect(formatStatus(status as StatusResponse, { verbose: true })).toContain('10000000000000000');
  });
});

describe('clientSeries', () => {
  it('counts each client on its latest activation; boot-failed rolls back', () => {
    const s = clientSeries([
      { client: 'a', release: 'r1', event: 'activated', code: null, at: 0 },
      { client: 'b', release: 'r1', event: 'activated', code: null, at: 0 },
      { client: 'a', release: 'r2', event: 'activated', code: null, at: 50 },
      { client: 'b', release: 'r2', event: 'activated', code: null, at: 50 },
      { client: 'b', release: 'r2', event: 'boot-failed', code: 'boot_failed', at: 60 },
    ], 100, 10);
    expect(s).toHaveLength(10);
    expect(s[0]!.counts).toEqual({ r1: 2 });
    expect(s[4]!.counts).toEqual({ r2: 2 });
    expect(s[9]!.counts).toEqual({ r1: 1, r2: 1 });
    expect(clientSeries([], 100)).toEqual([]);
  });
});

describe('clients per release over time, per channel', () => {
  /** One channel's card of the page. */
  const card = (html: string, channel: string) => html.split('<section ').find((s) => s.startsWith(`class="card" data-channel="${channel}"`))!;

  it("counts the channel's own clients only: one on beta is not in stable's chart", async () => {
    const { app, store, v2 } = await setup();
    await store.putChannel('demo', 'beta', { release: v2.id }, NOW - 4_000);
    await store.upsertClient({ id: 'client-beta', app: 'demo', channel: 'beta', release: v2.id, staged: null, caps: { sync: true, periodicSync: false, swIds: true }, lastSeen: NOW });
    await store.insertReports([{ client: 'client-beta', app: 'demo', release: v2.id, event: 'activated', at: NOW - 2_500 }], NOW);
    const html = await (await app.request(URL_, { headers: bearer })).text();
    expect(card(html, 'stable')).toContain(`data-series-release="${v2.id}" data-count="1"`);
    expect(card(html, 'beta')).toContain(`data-series-release="${v2.id}" data-count="1"`);
    expect(card(html, 'beta')).not.toContain('data-series-release="' + (await store.listReleases())[0]!.manifest.id);
  });

  it("lists in a card's report counts the releases of its channel, not another channel's", async () => {
    const { app, store, v1, v2 } = await setup();
    const v3 = (await fakeDist({ 'index.html': '<h1>v3</h1>' }, { version: '3.0.0' })).manifest;
    await store.insertRelease(v3, NOW - 4_000);
    await store.putChannel('demo', 'beta', { release: v3.id }, NOW - 4_000);
    await store.insertReports([{ client: 'client-beta', app: 'demo', release: v3.id, event: 'downloaded', at: NOW - 2_500 }], NOW);
    const html = await (await app.request(URL_, { headers: bearer })).text();
    expect(card(html, 'beta')).toContain(`data-release="${v3.id}" data-event="downloaded" data-count="1"`);
    expect(card(html, 'beta')).not.toContain(`data-release="${v2.id}" data-event=`);
    expect(card(html, 'stable')).not.toContain(`data-release="${v3.id}" data-event=`);
    for (const id of [v1.id, v2.id]) expect(card(html, 'stable')).toContain(`data-release="${id}" data-event="activated"`);
    expect(card(html, 'stable')).toContain('data-reports-scope>The releases this channel offers and its clients run; reports from every client of demo');
  });

  it('keeps a client clock between the release\'s publish and now: one device in 2100 or 1970 does not stretch the axis', () => {
    const published = new Map([['r1', 1_000], ['r2', 5_000]]);
    const s = clientSeries([
      { client: 'a', release: 'r1', event: 'activated', code: null, at: 0 },
      { client: 'b', release: 'r1', event: 'activated', code: null, at: 2_000 },
      { client: 'b', release: 'r2', event: 'activated', code: null, at: 4_102_444_800_000 },
    ], 10_000, 9, published);
    expect(s[0]!.at).toBe(2_000);
    expect(s[s.length - 1]!.at).toBe(10_000);
    expect(s[0]!.counts).toEqual({ r1: 2 });
    expect(s[s.length - 2]!.counts).toEqual({ r1: 2 });
    expect(s[s.length - 1]!.counts).toEqual({ r1: 1, r2: 1 });
  });

  it('reports kept at one instant count in the order they were received (the store gives them newest first)', () => {
    // b's clock is ahead: its activation of r2 and the boot-failed that undid it are both kept at now.
    const newestFirst = [
      { client: 'b', release: 'r2', event: 'boot-failed' as const, code: 'boot_failed' as const, at: 9e12 },
      { client: 'b', release: 'r2', event: 'activated' as const, code: null, at: 8e12 },
      { client: 'b', release: 'r1', event: 'activated' as const, code: null, at: 2_000 },
    ];
    const s = clientSeries(newestFirst, 10_000, 4, new Map([['r1', 1_000], ['r2', 5_000]]));
    expect(s[s.length - 1]!.counts).toEqual({ r1: 1 });
  });

  it('says when the chart is drawn from the newest activations only', () => {
    const channel = { name: 'stable', app: 'demo', release: 'r1', previous: null, percent: 100, activation: 'prompt' as const, paused: false, pausedReason: null, minimum: null, updatedAt: NOW };
    const html = (capped: string[]) => renderDashboard(channelViews({
      status: { releases: [], clients: [], reportCounts: [], recentReports: [], channels: [channel] },
      reports: new Map([['demo\nstable', [{ client: 'c1', release: 'r1', event: 'activated' as const, code: null, at: NOW }]]]),
      capped: new Set(capped), clients: new Map(), now: NOW,
    }), NOW);
    expect(SERIES_REPORTS).toBe(250_000);
    expect(html(['demo'])).toContain('<span data-series-capped>From the newest 250,000 activations of demo only');
    expect(html(['other'])).not.toContain('data-series-capped');
  });
});

describe('store reads per load', () => {
  it('a fixed few, then two per app and one per channel: no pass over the clients table or the reports it does not show', async () => {
    const { dir, store } = tempStore({ prefix: 'updraft-dash-' });
    const calls: string[] = [];
    // The real store, its reads listed.
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (...args: unknown[]) => { calls.push(String(key)); return (value as (...a: unknown[]) => unknown).apply(target, args); } : value;
      },
    });
    const app = createUpdateServer({ store: counted, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN, now: () => NOW });
    for (const [name, channels] of [['demo', ['stable', 'beta']], ['other', ['stable']]] as const) {
      const m = (await fakeDist({ 'index.html': name }, { app: name })).manifest;
      await store.insertRelease(m, NOW);
      for (const ch of channels) await store.putChannel(name, ch, { release: m.id }, NOW);
    }
    const before = calls.length;
    expect((await app.request(URL_, { headers: bearer })).status).toBe(200);
    const reads = calls.slice(before).filter((k) => !['getToken', 'changeCounter'].includes(k));
    const tally = Object.fromEntries([...new Set(reads)].map((k) => [k, reads.filter((r) => r === k).length]));
    expect(tally).toEqual({ listReleases: 1, listChannels: 1, reportCounts: 1, countClients: 2, channelActivations: 2, releaseHealth: 3 });
  });
});

describe('paused state', () => {
  const status = (extra: object) => ({
    releases: [], clients: [], reportCounts: [], recentReports: [],
    channels: [{ name: 'beta', app: 'demo', release: 'r2', previous: 'r1', percent: 10, activation: 'prompt' as const, updatedAt: NOW, ...extra }],
  });
  const render = (extra: object) =>
    renderDashboard(channelViews({ status: status(extra) as never, reports: new Map(), clients: new Map(), now: NOW }), NOW);

  it('renders paused with its reason, rolling out when not paused, nothing when the field is absent', () => {
    expect(render({ paused: true, pausedReason: 'failure rate 30% > 10%' })).toContain('data-paused="true">paused: failure rate 30% &gt; 10%');
    expect(render({ paused: false, pausedReason: null })).toContain('data-paused="false"');
    expect(render({})).not.toContain('data-paused');
  });
});

describe('what clients outside the rollout get', () => {
  const release = (id: string, seq: number) => ({ id, app: 'demo', version: `${seq}.0.0`, seq, createdAt: '2024-01-01', parts: 1, bytes: 1 });
  const status = (channel: object): StatusResponse => ({
    releases: [release('r1', 1), release('r2', 2), release('r3', 3)], clients: [], reportCounts: [], recentReports: [],
    channels: [{ name: 'stable', app: 'demo', release: 'r3', previous: 'r1', percent: 57.1, activation: 'prompt', paused: false, pausedReason: null, minimum: null, updatedAt: NOW, ...channel }],
  });
  const html = (channel: object) => renderDashboard(channelViews({ status: status(channel), reports: new Map(), clients: new Map(), now: NOW }), NOW);

  it('previous, or the minimum when that is newer: the dashboard and `updraft status` say which', () => {
    expect(html({})).toContain('offered to 57.1%, the rest stay on 1.0.0 #1');
    expect(formatStatus(status({}))).toContain('\n  the other 42.9% stay on r1 (1.0.0 #1)\n');
    expect(html({ minimum: 'r2' })).toContain('offered to 57.1%, the rest get the minimum 2.0.0 #2');
    expect(formatStatus(status({ minimum: 'r2' }))).toContain('\n  the other 42.9% get r2 (2.0.0 #2) (the minimum)\n');
    expect(formatStatus(status({ minimum: 'r2', paused: true }))).toContain('; no client is offered r3, new clients get r2 (2.0.0 #2) (the minimum)\n');
  });

  it('paused: no client is offered the target, whatever its percent; new clients get the fallback', () => {
    const paused = html({ paused: true, pausedReason: 'failures' });
    expect(paused).toContain('<span data-offered="none">paused: no client is offered it, new clients get 1.0.0 #1; 57.1% once resumed</span>');
    expect(paused).not.toContain('offered to 57.1%');
    expect(paused).toContain('57.1% once resumed</text>');
    expect(html({ paused: true, minimum: 'r2' })).toContain('no client is offered it, new clients get the minimum 2.0.0 #2;');
    expect(html({})).toContain('offered to 57.1%, the rest stay on 1.0.0 #1');
  });

  it('a roll back says so in the card head, also at 100% (where the rollout line names no previous)', () => {
    expect(html({ release: 'r1', previous: 'r3', percent: 100 })).toContain('<span class="badge back" data-rolled-back-from="r3">rolled back from 3.0.0 #3</span>');
    expect(html({ release: 'r2', previous: 'r3' })).toContain('data-rolled-back-from="r3"');
    expect(html({})).not.toContain('data-rolled-back-from');
  });

  it('after a partial roll back nothing: the release rolled back from is offered to nobody, and neither page names it as what the rest get', () => {
    const back = { release: 'r2', previous: 'r3' };
    expect(html(back)).toContain('offered to 57.1%, the rest stay where they are (rolled back from 3.0.0 #3: offered to nobody)');
    expect(html(back)).not.toContain('the rest stay on');
    expect(formatStatus(status(back))).toContain('\n  the other 42.9% stay where they are (rolled back from r3 (3.0.0 #3): offered to nobody)\n');
    expect(formatStatus(status({ ...back, paused: true }))).toContain('; no client is offered r2\n');
    // A minimum below the target still reaches them.
    expect(formatStatus(status({ ...back, minimum: 'r1' }))).toContain('\n  the other 42.9% get r1 (1.0.0 #1) (the minimum)\n');
  });
});

describe('reading at a glance', () => {
  const release = (id: string, seq: number, version = `${seq}.0.0`) => ({ id, app: 'demo', version, seq, createdAt: '2024-01-01', parts: 1, bytes: 1 });
  const channel = { name: 'stable', app: 'demo', release: 'r1', previous: null, percent: 100, activation: 'prompt' as const, paused: false, pausedReason: null, minimum: null, updatedAt: NOW };
  const html = (status: Partial<StatusResponse>, reports: StatusResponse['recentReports'] = []) => renderDashboard(channelViews({
    status: { releases: [], clients: [], reportCounts: [], recentReports: [], channels: [channel], ...status },
    reports: new Map([['demo\nstable', reports]]), clients: new Map([['demo', status.clients ?? []]]), now: NOW,
  }), NOW);

  it('writes counts with thousands separators', () => {
    const page = html({
      releases: [release('r1', 1)],
      clients: [{ channel: 'stable', release: 'r1', count: 1_234_567 }],
      reportCounts: [{ release: 'r1', event: 'downloaded', code: null, count: 2_000_000 }, { release: 'r1', event: 'failed', code: 'quota', count: 1_500_000 }],
    });
    expect(page).toContain('data-total-clients="1234567">1,234,567</span>');
    expect(page).toContain('>2,000,000 downloaded</text>');
    expect(page).toContain('data-reason="quota" data-count="1500000"/><text x="');
    expect(page).toContain('>1,500,000</text>');
    expect(page).toContain('<span data-attempts="3500000">3,500,000</span>');
    // The over-time chart's axis: a compact figure that fits its margin.
    const series = renderDashboard(channelViews({
      status: { releases: [release('r1', 1)], clients: [], reportCounts: [], recentReports: [], channels: [channel] },
      reports: new Map([['demo\nstable', Array.from({ length: 12_345 }, (_, i) => ({ client: `c${i}`, release: 'r1', event: 'activated' as const, code: null, at: NOW - 1000 }))]]),
      clients: new Map(), now: NOW,
    }), NOW);
    expect(series).toContain('<text x="0" y="10">12.3K</text>');
  });

  it('cuts a long version in the charts to its column, whole in the tooltip and escaped', () => {
    const long = `<b>9.9.9</b>-beta.1+build.${'x'.repeat(60)}`;
    const page = html({ releases: [release('r1', 1, long)], reportCounts: [{ release: 'r1', event: 'activated', code: null, count: 1 }] });
    expect(page).toContain(`<text x="0" y="26.5"><title>${long.replace(/</g, '&lt;').replace(/>/g, '&gt;')} #1</title>&lt;b&gt;9.9.9&lt;/b&gt;-beta.1+b…</text>`);
    expect(page).not.toContain('<b>');
  });

  it('a channel no client has checked in on yet says so, and how clients get there', () => {
    const page = html({ releases: [release('r1', 1)] });
    expect(page).toContain('data-clients-empty>No client has checked in on this channel yet');
    expect(page).toContain("updraft({ channel: 'stable' })");
    expect(page).not.toContain('<th>active release');
  });

  it('gives no two releases the same colour: past the palette they share one grey "other releases" segment', () => {
    const ids = Array.from({ length: 22 }, (_, i) => `r${i + 1}`);
    const reports = ids.map((id, i) => ({ client: `client-${i}`, release: id, event: 'activated' as const, code: null, at: NOW - 1000 + i }));
    const page = html({
      releases: ids.map((id, i) => release(id, i + 1)),
      clients: ids.map((id, i) => ({ channel: 'stable', release: id, count: 100 - i })),
    }, reports);
    const legend = [...page.matchAll(/<span (data-series-release="(\w+)"|data-series-others) data-count="(\d+)"><svg[^>]*><rect [^>]*fill="(#\w+)"/g)];
    const colours = legend.map((m) => m[4]);
    expect(new Set(colours).size).toBe(colours.length);
    // The target (r1) and the seven releases most clients run get a colour; fourteen share the grey.
    expect(legend.filter((m) => m[2]).map((m) => m[2])).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8']);
    expect(page).toContain('data-series-others data-count="14"');
    expect(page).toContain('14 other releases: 14</span>');
  });
});
