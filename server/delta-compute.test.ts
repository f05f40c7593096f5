/** Delta creation in a worker thread within a budget: the real worker, the real codec. */
import { applyDelta, createDelta } from 'fossil-delta';
import { describe, expect, it } from 'vitest';
import { computeDelta, IN_THREAD_BYTES } from './delta-compute.js';

const enc = (s: string) => new TextEncoder().encode(s);
const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
const big = lines(20_000, (i) => `    { "name": "item${i}", "value": ${i % 1000} },`);

describe('computeDelta', () => {
  it('a pair above IN_THREAD_BYTES is computed by the worker: the same delta as in-thread', async () => {
    const [a, b] = [enc(big), enc(big.replace('"item777"', '"item777, changed"'))];
    expect(a.byteLength).toBeGreaterThan(IN_THREAD_BYTES);
    const delta = await computeDelta(a, b, 30_000);
    // Buffer.equals: a deep equality of a megabyte array element by element takes seconds.
    expect(Buffer.from(delta!).equals(createDelta(a, b))).toBe(true);
    expect(Buffer.from(applyDelta(a, delta!)).equals(b)).toBe(true);
  });

  it('a pair that takes longer than the budget gives null, and the worker is stopped', async () => {
    const rewritten = big.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 7) % 26) + 97));
    expect(await computeDelta(enc(big), enc(rewritten), 1)).toBeNull();
  });

  it('small pairs are computed in-thread, whatever the budget', async () => {
    const [a, b] = [enc(lines(100, (i) => `const v${i} = ${i};`)), enc(lines(100, (i) => `const v${i} = ${i === 50 ? 'x' : i};`))];
    expect(await computeDelta(a, b, 0)).toEqual(createDelta(a, b));
  });
});
