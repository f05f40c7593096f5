/** An answer by reference and its plan document: how they join, and what does not join. */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { expandFetch } from './plan.js';
import { PlanDocument, planDocHash, planDocPath, planFromRef, PlanRef } from './plan-ref.js';

const sha = (c: string) => c.repeat(64);
const TO = '000000000000000b';
const doc: PlanDocument = {
  app: 'demo', from: null, to: TO, toSeq: 2, rollback: false, activation: 'next-navigation',
  release: { id: TO, app: 'demo', version: '2', createdAt: '2024-01-01T00:00:00.000Z', entry: 'index.html', assets: [{ path: 'index.html', sha256: sha('a'), size: 10, type: 'text/html' }] },
  fetch: { bases: ['https://cdn.test/x/', 'https://o.test/'], parts: [{ sha256: sha('a'), size: 10 }, { sha256: sha('b'), size: 20 }] },
};
const ref: PlanRef = { planId: 'p1', issuedAt: 1, expiresAt: 2, servedAt: 3, doc: planDocPath('demo', 'stable', null, TO, sha('d')), notBefore: 7 };

describe('planFromRef', () => {
  it('joins the per-client fields and the shared document into the plan, one time for all parts', () => {
    const plan = planFromRef(ref, doc);
    if (typeof plan === 'string') throw new Error(plan);
    expect(plan).toMatchObject({ planId: 'p1', issuedAt: 1, expiresAt: 2, servedAt: 3, app: 'demo', to: TO, release: doc.release });
    expect(plan).not.toHaveProperty('doc');
    expect(plan.tasks).toEqual(expandFetch({ ...doc.fetch, notBefore: 7 }));
  });

  it('gives each part its own time and first source when the answer has slots', () => {
    const plan = planFromRef({ ...ref, notBefore: undefined, parts: [{ notBefore: 5 }, { notBefore: 6, first: 1 }] }, doc);
    if (typeof plan === 'string') throw new Error(plan);
    expect(plan.tasks.slice(0, 2)).toEqual(expandFetch({ bases: doc.fetch.bases, parts: [{ sha256: sha('a'), size: 10, notBefore: 5 }, { sha256: sha('b'), size: 20, notBefore: 6, first: 1 }] }).slice(0, 2));
  });

  it.each([
    ['a document of another release', { ...doc, to: '000000000000000c', release: { ...doc.release!, id: '000000000000000c' } }, ref],
    ['a document of another starting release', { ...doc, from: '000000000000000a' }, ref],
    ['a document of another app', { ...doc, app: 'other' }, ref],
    ['slots for another number of parts', doc, { ...ref, parts: [{ notBefore: 1 }] }],
    ['a part left without a time', doc, { ...ref, notBefore: undefined, parts: [{ notBefore: 1 }, {}] }],
    ['no time at all', doc, { ...ref, notBefore: undefined }],
    ['a first source outside the bases', doc, { ...ref, parts: [{ first: 2 }, {}] }],
  ])('refuses %s', (_name, d, r) => {
    expect(typeof planFromRef(ref, doc)).toBe('object');
    expect(typeof planFromRef(r as PlanRef, d as PlanDocument)).toBe('string');
  });
});

describe('plan document paths', () => {
  it('name the app, channel, both releases and the hash, which planDocHash reads back', () => {
    expect(planDocPath('demo', 'beta', '000000000000000a', TO, sha('e'))).toBe(`v1/plans/demo/beta/000000000000000a/${TO}/${sha('e')}`);
    expect(planDocHash(planDocPath('demo', 'beta', null, TO, sha('e')))).toBe(sha('e'));
  });

  it.each([
    ['an absolute URL', `https://evil.test/v1/plans/demo/stable/-/${TO}/${sha('d')}`],
    ['a parent segment', `v1/plans/../stable/-/${TO}/${sha('d')}`],
    ['a short hash', `v1/plans/demo/stable/-/${TO}/abc`],
    ['an upper-case hash', `v1/plans/demo/stable/-/${TO}/${'D'.repeat(64)}`],
    ['another route', `v1/blobs/${sha('d')}`],
    ['a query', `v1/plans/demo/stable/-/${TO}/${sha('d')}?x=1`],
  ])('are refused when they are %s', (_name, path) => {
    expect(planDocHash(path)).toBeNull();
    expect(v.safeParse(PlanRef, { ...ref, doc: path }).success).toBe(false);
    expect(v.safeParse(PlanRef, ref).success).toBe(true);
  });
});
