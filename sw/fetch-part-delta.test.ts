/** Deltas in the fetch task: the real runtime, the real Fossil delta codec, scripted servers. */
import { createDelta } from 'fossil-delta';
import { describe, expect, it } from 'vitest';
import type { Plan, ReportBatch, SwConfig } from '../protocol/index.js';
import { partKey } from './adapter.js';
import type { Runtime } from './runtime.js';
import { buildPlan, buildRelease, installedRuntime, TestAdapter, updateAnswer, type BuiltRelease } from './testing.js';

const config: SwConfig = { server: '/', app: 'demo', channel: 'stable', manifest: 'updraft-release.json', concurrency: 3, bootTimeoutMs: 30_000 };
const APP = 'https://app.test/';
const CDN = 'https://cdn.test/b/';
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
const enc = (s: string) => new TextEncoder().encode(s);

// Big enough that a delta is much smaller than the part, like a one-line change in a chunk.
const body = Array.from({ length: 200 }, (_, i) => `export const value${i} = ${i * 7};`).join('\n');
const V1 = { 'index.html': '<h1>v1</h1>', 'assets/app-AAAAAAAA.js': `${body}\nconsole.log("one")` };
const V2 = { 'index.html': '<h1>v1</h1>', 'assets/app-BBBBBBBB.js': `${body}\nconsole.log("two")` };

async function installed() {
  const { a, rt, r1 } = await installedRuntime(V1, config);
  const r2 = await buildRelease(V2, '2.0.0');
  const from = r1.manifest.assets.find((x) => x.path.endsWith('.js'))!.sha256;
  const to = r2.manifest.assets.find((x) => x.path.endsWith('.js'))!.sha256;
  const delta = createDelta(enc(V1['assets/app-AAAAAAAA.js']), enc(V2['assets/app-BBBBBBBB.js']));
  for (const [sha, text] of r2.blobs) {
    a.server.on(CDN + sha, new Response(text));
    a.server.on(APP + 'v1/blobs/' + sha, new Response(text));
  }
  const deltaUrl = `${APP}v1/deltas/${from}/${to}`;
  return { a, rt, r1, r2, from, to, delta, deltaUrl };
}

/** The plan with the delta source on the changed part's fetch task. */
function withDelta(r2: BuiltRelease, to: string, d: { from: string; url: string; size: number }): Plan {
  const plan = buildPlan(r2, { only: [to], sources: [CDN + '{sha}', APP + 'v1/blobs/{sha}'] });
  plan.tasks = plan.tasks.map((t) => (t.kind === 'fetch' ? { ...t, deltas: [d] } : t));
  return plan;
}

async function run(a: TestAdapter, rt: Runtime, plan: Plan) {
  a.server.on(APP + 'v1/check-in', updateAnswer(plan));
  a.server.clear();
  await rt.onMessage({ type: 'updraft:check-now' }, 'window-1');
  await (await rt.runner()).run();
}

const reports = (a: TestAdapter) =>
  a.server.requests.filter((r) => r.url === APP + 'v1/reports').flatMap((r) => (JSON.parse(r.body ?? '{}') as ReportBatch).reports);

describe('fetch task with a delta', () => {
  it('builds the part from the held base and the delta: no whole-part request, verified bytes stored, release activated', async () => {
    const { a, rt, r2, from, to, delta, deltaUrl } = await installed();
    expect(delta.byteLength).toBeLessThan(V2['assets/app-BBBBBBBB.js'].length / 10);
    a.server.on(deltaUrl, new Response(delta));
    await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: delta.byteLength }));
    expect(a.server.count(deltaUrl)).toBe(1);
    expect(a.server.urls().filter((u) => u.includes(to) && u !== deltaUrl)).toEqual([]);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, to)))).toBe(V2['assets/app-BBBBBBBB.js']);
    expect((await rt.state()).active).toBe(r2.manifest.id);
    expect(reports(a).filter((r) => r.event === 'rejected' || r.event === 'failed')).toEqual([]);
  });

  it('an inline delta (a data: URL in the plan) builds the part with no request for it at all', async () => {
    const { a, rt, r2, from, to, delta } = await installed();
    const url = `data:application/octet-stream;base64,${btoa(String.fromCharCode(...delta))}`;
    await run(a, rt, withDelta(r2, to, { from, url, size: delta.byteLength }));
    expect(a.server.urls().filter((u) => u.startsWith('http') && u.includes(to))).toEqual([]);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, to)))).toBe(V2['assets/app-BBBBBBBB.js']);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a corrupt inline delta: rejected (named shortly, not by its bytes), the whole part from the first source', async () => {
    const { a, rt, r2, from, to, delta } = await installed();
    const bad = delta.slice();
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    const url = `data:application/octet-stream;base64,${btoa(String.fromCharCode(...bad))}`;
    await run(a, rt, withDelta(r2, to, { from, url, size: delta.byteLength }));
    expect(a.server.count(CDN + to)).toBe(1);
    const rejected = reports(a).filter((r) => r.event === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.message).toContain('inline delta');
    expect(rejected[0]!.message).not.toContain('base64');
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a corrupt delta is reported `rejected` (content) and the whole part comes from the first source', async () => {
    const { a, rt, r2, from, to, delta, deltaUrl } = await installed();
    const bad = delta.slice();
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff; // inside the literal text or the checksum: either way it must not verify
    a.server.on(deltaUrl, new Response(bad));
    await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: delta.byteLength }));
    expect(a.server.count(deltaUrl)).toBe(1);
    expect(a.server.count(CDN + to)).toBe(1);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, to)))).toBe(V2['assets/app-BBBBBBBB.js']);
    expect((await rt.state()).active).toBe(r2.manifest.id);
    const rejected = reports(a).filter((r) => r.event === 'rejected');
    expect(rejected).toEqual([expect.objectContaining({ code: 'content', release: r2.manifest.id })]);
    expect(rejected[0]!.message).toContain(deltaUrl);
    expect(reports(a).filter((r) => r.event === 'failed')).toEqual([]);
  });

  it('a delta that builds other bytes than the part (valid delta, wrong base) is rejected by the hash check', async () => {
    const { a, rt, r2, from, to, deltaUrl } = await installed();
    const other = enc(V2['assets/app-BBBBBBBB.js'].replace('two', 'TWO'));
    const wrong = createDelta(enc(V1['assets/app-AAAAAAAA.js']), other);
    a.server.on(deltaUrl, new Response(wrong));
    await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: wrong.byteLength }));
    expect(a.server.count(CDN + to)).toBe(1);
    expect(reports(a).filter((r) => r.event === 'rejected')[0]!.message).toMatch(/delta built sha256/);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a base the client does not hold: no delta request, the whole part', async () => {
    const { a, rt, r2, to, delta, deltaUrl } = await installed();
    const notHeld = 'f'.repeat(64);
    const url = `${APP}v1/deltas/${notHeld}/${to}`;
    a.server.on(url, new Response(delta));
    await run(a, rt, withDelta(r2, to, { from: notHeld, url, size: delta.byteLength }));
    expect(a.server.count(url)).toBe(0);
    expect(a.server.count(deltaUrl)).toBe(0);
    expect(a.server.count(CDN + to)).toBe(1);
    expect((await rt.state()).active).toBe(r2.manifest.id);
    expect(reports(a).filter((r) => r.event === 'rejected')).toEqual([]);
  });

  it('a delta the server cannot serve (404, network error): the whole part, and nothing reported as bad', async () => {
    for (const answer of [new Response('gone', { status: 404 }), new TypeError('network error')]) {
      const { a, rt, r2, from, to, delta, deltaUrl } = await installed();
      a.server.on(deltaUrl, answer);
      await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: delta.byteLength }));
      expect(a.server.count(deltaUrl)).toBe(1);
      expect(a.server.count(CDN + to)).toBe(1);
      expect((await rt.state()).active).toBe(r2.manifest.id);
      expect(reports(a).filter((r) => r.event === 'rejected' || r.event === 'failed')).toEqual([]);
    }
  });
});

describe('fetch task with a delta: failures that must not cost the update', () => {
  it('a held base that cannot be read (its cached body errors): the whole part, the plan does not fail', async () => {
    const { a, rt, r2, from, to, delta, deltaUrl } = await installed();
    a.server.on(deltaUrl, new Response(delta));
    const match = a.cache.match.bind(a.cache);
    // Cache Storage can hand back an entry whose body then fails to read (its backing file gone).
    a.cache.match = async (key: string) => (key === partKey(APP, from)
      ? new Response(new ReadableStream({ pull: (c) => c.error(new TypeError('Failed to fetch')) }))
      : match(key));
    await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: delta.byteLength }));
    expect(a.server.count(CDN + to)).toBe(1);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, to)))).toBe(V2['assets/app-BBBBBBBB.js']);
    expect(reports(a).filter((r) => r.event === 'failed')).toEqual([]);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });

  it('a delta source that sends more bytes than the plan states: cut off, reported `rejected`, the whole part', async () => {
    const { a, rt, r2, from, to, delta, deltaUrl } = await installed();
    const longer = new Uint8Array(delta.byteLength + 64);
    longer.set(delta);
    a.server.on(deltaUrl, new Response(longer));
    await run(a, rt, withDelta(r2, to, { from, url: deltaUrl, size: delta.byteLength }));
    expect(a.server.count(CDN + to)).toBe(1);
    const rejected = reports(a).filter((r) => r.event === 'rejected');
    expect(rejected).toEqual([expect.objectContaining({ code: 'content' })]);
    expect(rejected[0]!.message).toContain(deltaUrl);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });
});

describe('fetch task with a delta: source holds', () => {
  it('a delta source answering 429 with Retry-After holds its origin like a part source: the next part goes to the origin\'s delta, not back to it', async () => {
    const one = { ...config, concurrency: 1 };
    const W1 = { 'index.html': '<h1>v1</h1>', 'assets/a-AAAAAAAA.js': `${body}\n"a1"`, 'assets/b-AAAAAAAA.js': `${body}\n"b1"` };
    const W2 = { 'index.html': '<h1>v1</h1>', 'assets/a-BBBBBBBB.js': `${body}\n"a2"`, 'assets/b-BBBBBBBB.js': `${body}\n"b2"` };
    const { a, rt, r1 } = await installedRuntime(W1, one);
    const r2 = await buildRelease(W2, '2.0.0');
    const changed = ['a', 'b'].map((n) => {
      const from = r1.manifest.assets.find((x) => x.path.startsWith(`assets/${n}-`))!.sha256;
      const to = r2.manifest.assets.find((x) => x.path.startsWith(`assets/${n}-`))!.sha256;
      const delta = createDelta(enc(r1.blobs.get(from)!), enc(r2.blobs.get(to)!));
      const [cdn, app] = [`https://cdn.test/v1/deltas/${from}/${to}`, `${APP}v1/deltas/${from}/${to}`];
      a.server.on(cdn, new Response('slow down', { status: 429, headers: { 'retry-after': '120' } }));
      a.server.on(app, new Response(delta));
      a.server.on(CDN + to, new Response(r2.blobs.get(to)!));
      return { to, deltas: [{ from, url: cdn, size: delta.byteLength }, { from, url: app, size: delta.byteLength }] };
    });
    const plan = buildPlan(r2, { only: changed.map((c) => c.to), sources: [CDN + '{sha}', APP + 'v1/blobs/{sha}'] });
    plan.tasks = plan.tasks.map((t) => (t.kind === 'fetch' ? { ...t, deltas: changed.find((c) => c.to === t.sha256)!.deltas } : t));
    await run(a, rt, plan);
    expect(a.server.urls().filter((u) => u.startsWith('https://cdn.test/'))).toEqual([changed[0]!.deltas[0]!.url]);
    expect(changed.map((c) => a.server.count(c.deltas[1]!.url))).toEqual([1, 1]);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });
});

describe('fetch task: the parts cache fails a lookup', () => {
  it('a lookup that throws (Cache Storage failing a read) counts as not held: the part is fetched and verified, the plan does not fail', async () => {
    const { a, rt, r2, to } = await installed();
    const match = a.cache.match.bind(a.cache);
    let thrown = 0;
    a.cache.match = async (key: string) => {
      if (key === partKey(APP, to) && thrown === 0) {
        thrown++;
        throw new DOMException('Unexpected internal error.', 'UnknownError');
      }
      return match(key);
    };
    await run(a, rt, buildPlan(r2, { only: [to], sources: [CDN + '{sha}', APP + 'v1/blobs/{sha}'] }));
    expect(thrown).toBe(1);
    expect(a.server.count(CDN + to)).toBe(1);
    expect(new TextDecoder().decode(a.cache.entries.get(partKey(APP, to)))).toBe(V2['assets/app-BBBBBBBB.js']);
    expect(reports(a).filter((r) => r.event === 'failed')).toEqual([]);
    expect((await rt.state()).active).toBe(r2.manifest.id);
  });
});
