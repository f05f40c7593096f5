import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATHS, type ChannelState, type CheckInResponse, type Report, type StatusResponse } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { fakeDist, type FakeDist } from './fake-dist.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

const TOKEN = 'test-token';
const NOW = 1_700_000_000_000;

/** A server whose check-in cache never ages out: only invalidation can make it see a change. */
async function setup(o: Partial<UpdateServerOptions> = {}) {
  const { dir, store } = tempStore({ prefix: 'updraft-rollout-' });
  const app = createUpdateServer({ store, blobs: new BlobStore(join(dir, 'blobs')), token: TOKEN, now: () => NOW, checkInCacheMs: 3_600_000, ...o });
  const request = (method: string, path: string, body?: unknown) =>
    app.request(`/${path}`, { method, headers: { Authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { body: body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body) }) });
  const channel = async (update: object, name = 'stable') => {
    const res = await request('PUT', PATHS.adminChannel(name), update);
    return { status: res.status, body: (await res.json()) as ChannelState & { error?: { code: string } } };
  };
  const publish = async (dist: FakeDist) => {
    for (const a of [...dist.manifest.assets, ...(dist.manifest.sw ? [dist.manifest.sw] : [])]) {
      await request('PUT', PATHS.adminBlob(a.sha256), dist.files.get(a.path)!);
    }
    expect((await request('POST', PATHS.adminReleases, dist.manifest)).status).toBe(201);
    return dist.manifest.id;
  };
  const checkIn = async (release: string | null, client = 'client-abc-123') => {
    const res = await app.request(`/${PATHS.checkIn}`, { method: 'POST', body: JSON.stringify({ client, app: 'demo', channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }) });
    const body = (await res.json()) as CheckInResponse;
    return body.status === 'update' ? { to: body.plan.to, activation: body.plan.activation } : null;
  };
  const report = async (reports: Report[]) => expect((await request('POST', PATHS.reports, { reports })).status).toBe(202);
  const status = async () => (await (await request('GET', PATHS.adminStatus)).json()) as StatusResponse;
  const [r1, r2, r3] = [
    await publish(await fakeDist({ 'index.html': '<h1>1</h1>' }, { version: '1' })),
    await publish(await fakeDist({ 'index.html': '<h1>2</h1>' }, { version: '2' })),
    await publish(await fakeDist({ 'index.html': '<h1>3</h1>' }, { version: '3' })),
  ] as [string, string, string];
  return { store, channel, checkIn, report, status, r1, r2, r3 };
}

describe('pause and resume', () => {
  it('paused: no plan to the target, clients on it stay; resume offers it again; both drop cached answers', async () => {
    const { channel, checkIn, r1, r2 } = await setup();
    await channel({ release: r1 });
    await channel({ release: r2 });
    expect(await checkIn(r1)).toEqual({ to: r2, activation: 'next-navigation' }); // cached now

    const paused = await channel({ paused: true, pausedReason: 'checking a crash' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ release: r2, previous: r1, paused: true, pausedReason: 'checking a crash' });
    expect(await checkIn(r1)).toBeNull();
    expect(await checkIn(r2, 'client-on-target')).toBeNull();
    expect(await checkIn(null, 'client-new')).toEqual({ to: r1, activation: 'next-navigation' });

    expect((await channel({ paused: false })).body).toMatchObject({ release: r2, paused: false, pausedReason: null });
    expect(await checkIn(r1)).toEqual({ to: r2, activation: 'next-navigation' });
  });

  it('an update without release needs an existing channel', async () => {
    const { channel } = await setup();
    const res = await channel({ paused: true }, 'beta');
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('unknown_channel');
  });
});

describe('roll back', () => {
  it('pointing the channel at an older release offers it to clients on the newer one, to every client even after a partial rollout', async () => {
    const { channel, checkIn, r1, r2 } = await setup();
    await channel({ release: r1 });
    await channel({ release: r2, percent: 10 });
    const back = await channel({ release: r1 });
    expect(back.body).toMatchObject({ release: r1, previous: r2, percent: 100 });
    for (let i = 0; i < 20; i++) expect(await checkIn(r2, `client-${i}-on-r2`)).toEqual({ to: r1, activation: 'next-navigation' });
    expect(await checkIn(r1)).toBeNull();
    // An explicit percent is the admin's choice.
    expect((await channel({ release: r2, percent: 10 })).body.percent).toBe(10);
  });
});

describe('minimum release', () => {
  it('clients below the minimum get the immediate policy, the others the channel one; unknown minimum refused', async () => {
    const { channel, checkIn, r1, r2, r3 } = await setup();
    await channel({ release: r3, activation: 'prompt' });
    expect(await checkIn(r1)).toEqual({ to: r3, activation: 'prompt' });
    expect((await channel({ minimum: r2 })).body).toMatchObject({ release: r3, minimum: r2 });
    expect(await checkIn(r1)).toEqual({ to: r3, activation: 'immediate' });
    expect(await checkIn(r2)).toEqual({ to: r3, activation: 'prompt' });
    expect((await channel({ minimum: 'ffffffffffffffff' })).body.error?.code).toBe('unknown_release');
    expect((await channel({ minimum: null })).body.minimum).toBeNull();
    expect(await checkIn(r1)).toEqual({ to: r3, activation: 'prompt' });
  });
});

describe('automatic pause', () => {
  const reports = (release: string, from: number, n: number, event: Report['event']): Report[] =>
    Array.from({ length: n }, (_, i) => ({ client: `client-${from + i}`, app: 'demo', release, event, at: NOW }));

  it('pauses the channel once the failure rate reaches the threshold after the minimum sample, and says why', async () => {
    const { channel, checkIn, report, status, r1, r2 } = await setup({ autoPause: { threshold: 0.2, minSample: 20 } });
    await channel({ release: r1 });
    await channel({ release: r2 });
    expect(await checkIn(r1)).toEqual({ to: r2, activation: 'next-navigation' });
    // 5 of 19: above the threshold, below the sample.
    await report([...reports(r2, 0, 14, 'activated'), ...reports(r2, 14, 5, 'failed')]);
    expect((await status()).channels[0]).toMatchObject({ paused: false });
    // Failures of another release do not count.
    await report(reports(r1, 100, 30, 'failed'));
    expect((await status()).channels[0]).toMatchObject({ paused: false });
    await report(reports(r2, 19, 1, 'downloaded'));
    const ch = (await status()).channels[0]!;
    expect(ch).toMatchObject({ release: r2, paused: true });
    expect(ch.pausedReason).toBe(`auto: failure rate 25% (5 of 20 clients) on ${r2} reached 20%`);
    expect(await checkIn(r1)).toBeNull();
  });

  it('boot-failed counts as a failure; below the threshold nothing happens; false turns it off', async () => {
    const a = await setup({ autoPause: { threshold: 0.5, minSample: 4 } });
    await a.channel({ release: a.r2 });
    // 1 of 4 activated clients failed to boot: below 50%.
    await a.report([...reports(a.r2, 0, 4, 'activated'), ...reports(a.r2, 0, 1, 'boot-failed')]);
    expect((await a.status()).channels[0]!.paused).toBe(false);
    await a.report(reports(a.r2, 1, 1, 'boot-failed'));
    expect((await a.status()).channels[0]).toMatchObject({ paused: true });

    const off = await setup({ autoPause: false });
    await off.channel({ release: off.r2 });
    await off.report(reports(off.r2, 0, 40, 'failed'));
    expect((await off.status()).channels[0]!.paused).toBe(false);
  });

  it('is on by default (20% after 20 clients)', async () => {
    const { channel, report, status, r2 } = await setup();
    await channel({ release: r2 });
    await report([...reports(r2, 0, 16, 'activated'), ...reports(r2, 16, 4, 'failed')]);
    expect((await status()).channels[0]).toMatchObject({ paused: true });
  });
});
