/** The compact task list (`fetch`): what it stands for, and what the schema refuses. */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { expandFetch, Plan, type CompactFetch } from './plan.js';

const sha = (c: string) => c.repeat(64);
const fetch: CompactFetch = {
  bases: ['https://cdn.test/x/', 'https://o.test'],
  parts: [{ sha256: sha('a'), size: 10, notBefore: 5 }, { sha256: sha('b'), size: 20, notBefore: 6, first: 1 }],
};
const plan = {
  planId: 'p1', app: 'demo', from: null, to: '000000000000000b', toSeq: 2, issuedAt: 1, expiresAt: 2, activation: 'next-navigation',
  release: { id: '000000000000000b', app: 'demo', version: '2', createdAt: '2024-01-01T00:00:00.000Z', entry: 'index.html', assets: [{ path: 'index.html', sha256: sha('a'), size: 10, type: 'text/html' }] },
};

describe('expandFetch', () => {
  it('is one fetch per part from each base in order (the `first` moved to the front), then the fixed tasks', () => {
    expect(expandFetch(fetch)).toEqual([
      { id: `fetch:${sha('a')}`, kind: 'fetch', after: [], sha256: sha('a'), size: 10, notBefore: 5, sources: [`https://cdn.test/x/v1/blobs/${sha('a')}`, `https://o.test/v1/blobs/${sha('a')}`] },
      { id: `fetch:${sha('b')}`, kind: 'fetch', after: [], sha256: sha('b'), size: 20, notBefore: 6, sources: [`https://o.test/v1/blobs/${sha('b')}`, `https://cdn.test/x/v1/blobs/${sha('b')}`] },
      { id: 'install', kind: 'install', after: [`fetch:${sha('a')}`, `fetch:${sha('b')}`] },
      { id: 'report:downloaded', kind: 'report', event: 'downloaded', after: ['install'] },
      { id: 'activate', kind: 'activate', after: ['install'] },
      { id: 'report:activated', kind: 'report', event: 'activated', after: ['activate'] },
    ]);
  });
  it('gives a part without a time of its own the fetch\'s', () => {
    const times = expandFetch({ ...fetch, notBefore: 9, parts: [{ sha256: sha('a'), size: 10 }, { sha256: sha('b'), size: 20, notBefore: 6 }] })
      .map((t) => (t.kind === 'fetch' ? t.notBefore : null));
    expect(times).toEqual([9, 6, null, null, null, null]);
  });
});

describe('Plan schema with a compact fetch', () => {
  it('expands it into tasks, so nothing after parsing sees the compact form', () => {
    const parsed = v.parse(Plan, { ...plan, fetch });
    expect(parsed).not.toHaveProperty('fetch');
    expect(parsed.tasks).toEqual(expandFetch(fetch));
  });

  it.each([
    ['neither tasks nor fetch', plan],
    ['both tasks and fetch', { ...plan, fetch, tasks: [] }],
    ['a first source outside the bases', { ...plan, fetch: { ...fetch, parts: [{ ...fetch.parts[0], first: 2 }] } }],
    ['a first source of 0 (that is no move: leave it out)', { ...plan, fetch: { ...fetch, parts: [{ ...fetch.parts[0], first: 0 }] } }],
    ['no bases', { ...plan, fetch: { ...fetch, bases: [] } }],
    ['a part with no time, its own or the fetch\'s', { ...plan, fetch: { ...fetch, parts: [{ sha256: sha('a'), size: 10 }] } }],
    ['a base that is not a URL', { ...plan, fetch: { ...fetch, bases: ['cdn'] } }],
    ['a part without its hash', { ...plan, fetch: { ...fetch, parts: [{ size: 1, notBefore: 1 }] } }],
  ])('refuses %s', (_name, input) => {
    // The same plan with a valid task list passes: the refusal is for what the case names.
    expect(v.safeParse(Plan, { ...plan, tasks: [] }).success).toBe(true);
    expect(v.safeParse(Plan, input).success).toBe(false);
  });
});
