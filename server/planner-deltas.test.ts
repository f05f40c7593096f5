/** The planner's delta decisions, pure: which fetch tasks get delta sources, in which form. */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CheckInResponse, type ChannelState, type FetchTask, type ReleaseManifest } from '../protocol/index.js';
import { renderTemplate, renderUpdate, signedPart } from './answer-json.js';
import type { DeltaInfo } from './delta-store.js';
import { decide, offerDelta, personalize, planTemplate, type KnownRelease } from './planner.js';

const sha = (c: string) => c.repeat(64);
const A = '000000000000000a';
const B = '000000000000000b';
const release = (id: string, parts: Record<string, string>): ReleaseManifest => ({
  id, app: 'demo', version: id.slice(-1), createdAt: '2024-01-01T00:00:00.000Z', entry: 'index.html',
  assets: Object.entries(parts).map(([path, c]) => ({ path, sha256: sha(c), size: 1000, type: 'text/javascript' })),
});
const releases = new Map<string, KnownRelease>([
  [A, { manifest: release(A, { 'index.html': '1', 'assets/app-AAAAAAAA.js': '2' }), seq: 1 }],
  [B, { manifest: release(B, { 'index.html': '3', 'assets/app-BBBBBBBB.js': '4' }), seq: 2 }],
]);
const channel: ChannelState = {
  name: 'stable', app: 'demo', release: B, previous: A, percent: 100, activation: 'next-navigation', paused: false, pausedReason: null, minimum: null, updatedAt: 0,
};
const template = (deltas: Map<string, DeltaInfo>, from: string | null = A) =>
  planTemplate({ app: 'demo', channel, from, to: B, releases, origin: 'https://o.test/', cdn: ['https://cdn.test/'], deltas })!;
const byPart = (fetches: { sha256: string; deltas?: unknown }[]) => Object.fromEntries(fetches.map((f) => [f.sha256[0], f.deltas ?? null]));

describe('offerDelta', () => {
  it.each([
    [{ wire: 500, wholeWire: 1000 }, true],
    [{ wire: 501, wholeWire: 1000 }, false],
    [{ wire: 10, wholeWire: 11 }, false],
    [{ wire: 0, wholeWire: 0 }, true],
  ])('%j → %s', (sizes, offered) => expect(offerDelta({ from: sha('1'), size: sizes.wire, ...sizes })).toBe(offered));
});

describe('planTemplate with deltas', () => {
  it('offers a worthwhile delta whose base the client holds, CDN first then origin; not one that saves too little', () => {
    const t = template(new Map([
      [sha('4'), { from: sha('2'), size: 40, wire: 30, wholeWire: 400 }],
      [sha('3'), { from: sha('1'), size: 30, wire: 30, wholeWire: 50 }],
    ]));
    const path = `v1/deltas/${sha('2')}/${sha('4')}`;
    expect(byPart(t.fetches)).toEqual({
      4: [{ from: sha('2'), url: `https://cdn.test/${path}`, size: 40 }, { from: sha('2'), url: `https://o.test/${path}`, size: 40 }],
      3: null,
    });
  });

  it('an inline delta is one data: source', () => {
    const t = template(new Map([[sha('4'), { from: sha('2'), size: 3, wire: 3, wholeWire: 400, inline: 'AAEC' }]]));
    expect(t.fetches.find((f) => f.sha256 === sha('4'))!.deltas).toEqual([{ from: sha('2'), url: 'data:application/octet-stream;base64,AAEC', size: 3 }]);
  });

  it('no delta for a client that does not hold the base (a first install, or another release)', () => {
    const deltas = new Map([[sha('4'), { from: sha('9'), size: 40, wire: 30, wholeWire: 400 }]]);
    expect(byPart(template(deltas).fetches)).toEqual({ 4: null, 3: null });
    expect(template(new Map([[sha('4'), { from: sha('2'), size: 40, wire: 30, wholeWire: 400 }]]), null).fetches.every((f) => !f.deltas)).toBe(true);
  });

  it('the rendered JSON equals the personalized plan and passes the wire schema', () => {
    const t = template(new Map([[sha('4'), { from: sha('2'), size: 40, wire: 30, wholeWire: 400 }]]));
    const p = { client: 'client-0001', now: 1, notBefore: t.fetches.map(() => 1), options: { checkInInterval: 3600, spreadMs: 0, planTtlMs: 1000 } };
    const r = renderTemplate(t);
    const rendered = JSON.parse(renderUpdate(r, signedPart(r, p.now, p.options, null), p)) as unknown;
    expect(rendered).toEqual(personalize(t, p));
    const parsed = v.parse(CheckInResponse, rendered);
    if (parsed.status !== 'update') throw new Error('expected update');
    expect(parsed.plan.tasks.filter((x): x is FetchTask => x.kind === 'fetch').find((f) => f.deltas)?.deltas).toHaveLength(2);
    // The compact form carries each part's deltas as they are.
    const compact = JSON.parse(renderUpdate(r, signedPart(r, p.now, p.options, null), p, '', true)) as { plan: { fetch?: { parts: unknown[] } } };
    expect(compact.plan.fetch?.parts.filter((x) => (x as { deltas?: unknown }).deltas)).toHaveLength(1);
    expect(v.parse(CheckInResponse, compact)).toEqual(parsed);
  });

  it('decide passes the delta input through', () => {
    const d = decide({
      client: { client: 'client-0001', app: 'demo', channel: 'stable', release: A, caps: { sync: true, periodicSync: false } },
      channel, releases, origin: 'https://o.test/', cdn: [], now: 1, options: { checkInInterval: 3600, spreadMs: 0, planTtlMs: 1000 },
      deltas: new Map([[sha('4'), { from: sha('2'), size: 40, wire: 30, wholeWire: 400 }]]),
    });
    if (d.status !== 'update') throw new Error('expected update');
    expect(d.plan.tasks.filter((x): x is FetchTask => x.kind === 'fetch').find((f) => f.sha256 === sha('4'))!.deltas).toEqual([
      { from: sha('2'), url: `https://o.test/v1/deltas/${sha('2')}/${sha('4')}`, size: 40 },
    ]);
  });
});
