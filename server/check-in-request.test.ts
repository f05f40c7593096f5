import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CheckInRequest, UpdraftError } from '../protocol/index.js';
import { fastCheckIn, parseCheckIn, scanWorkerBody } from './check-in-request.js';

const release = fc.oneof(fc.constant(null), fc.stringMatching(/^[0-9a-f]{16}$/), fc.string({ maxLength: 20 }));
const body = fc.record(
  {
    client: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), fc.string({ maxLength: 70 })),
    app: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), fc.string({ maxLength: 70 })),
    channel: fc.oneof(fc.constantFrom('stable', 'beta'), fc.string({ maxLength: 5 })),
    release,
    staged: fc.oneof(release, fc.constant(undefined)),
    pending: fc.oneof(release, fc.constant(undefined)),
    caps: fc.oneof(
      fc.record({ sync: fc.boolean(), periodicSync: fc.boolean(), quota: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 })), usage: fc.double({ noNaN: true, min: 0 }), compactPlans: fc.oneof(fc.boolean(), fc.constant(1)), planRefs: fc.oneof(fc.boolean(), fc.constant('yes')), swIds: fc.oneof(fc.boolean(), fc.constant('1')) }, { requiredKeys: ['sync', 'periodicSync'] }),
      fc.anything(),
    ),
    extra: fc.anything(),
  },
  { requiredKeys: ['client', 'app', 'channel', 'release', 'caps'] },
);

describe('parseCheckIn', () => {
  it('its fast path accepts only what the schema accepts, with the same output', () => {
    fc.assert(
      fc.property(fc.oneof(body, fc.anything()), (input) => {
        const json = JSON.parse(JSON.stringify(input ?? null)) as unknown;
        const fast = fastCheckIn(json);
        const schema = v.safeParse(CheckInRequest, json);
        if (fast) expect(schema.success && schema.output).toEqual(fast);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes the fast path for a well-formed check-in, and gives the schema errors otherwise', () => {
    const ok = { client: 'client-1234', app: 'demo', channel: 'stable', release: null, caps: { sync: true, periodicSync: false, quota: 10 } };
    expect(fastCheckIn(ok)).toEqual(ok);
    expect(() => parseCheckIn('{')).toThrow(expect.objectContaining({ code: 'invalid_json' }) as UpdraftError);
    expect(() => parseCheckIn(JSON.stringify({ ...ok, client: 'x' }))).toThrow(/client/);
  });

  it('reads a body as the worker writes it with its scanner, giving what JSON.parse and the schema give', () => {
    // Bodies in the worker's key order (sw/check-in.ts), valid and not: the scanner must never
    // accept what the JSON way rejects, nor read anything differently.
    // Mostly valid values, so that many bodies are valid throughout; the rest are near misses.
    const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: other, weight: 1 });
    const number = mostly(fc.oneof(fc.nat(), fc.double({ noNaN: true, min: 0 }), fc.constant(1e21)), fc.oneof(fc.integer({ min: -5, max: -1 }), fc.double(), fc.constant(-0)));
    const rel = mostly(fc.oneof(fc.constant(null), fc.stringMatching(/^[0-9a-f]{16}$/)), fc.string({ maxLength: 20 }));
    const name = mostly(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), fc.string({ maxLength: 70 }));
    const workerBody = fc.record(
      {
        app: name,
        channel: name,
        release: rel,
        staged: rel,
        pending: rel,
        caps: fc.record({ sync: mostly(fc.boolean(), fc.constant('true')), periodicSync: fc.boolean(), quota: number, usage: number, compactPlans: mostly(fc.boolean(), fc.constant('true')), planRefs: mostly(fc.boolean(), fc.constant(0)), swIds: mostly(fc.boolean(), fc.constant(null)) }, { requiredKeys: ['sync', 'periodicSync'] }),
        recorded: mostly(fc.stringMatching(/^[0-9a-z]{1,16}$/), fc.string({ maxLength: 18 })),
      },
      { requiredKeys: ['app', 'channel', 'release', 'caps'] },
    );
    const client = mostly(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), fc.string({ maxLength: 70 }));
    let scanned = 0;
    fc.assert(
      fc.property(workerBody, client, fc.boolean(), (input, id, spaced) => {
        const text = JSON.stringify({ client: id, ...input }, null, spaced ? 1 : undefined);
        const scan = scanWorkerBody(text);
        if (scan === null) return;
        scanned++;
        expect(spaced).toBe(false);
        const json = JSON.parse(text) as unknown;
        const schema = v.safeParse(CheckInRequest, json);
        expect(schema.success && schema.output).toEqual(scan);
        expect(fastCheckIn(json)).toEqual(scan);
      }),
      // 8000: each optional field is a near miss one time in seven, and with `swIds` (0.6) 5000 runs
      // gave ~550 valid bodies, under the bound below once in a few runs.
      { numRuns: 8000 },
    );
    // Enough valid bodies were generated for the comparison to mean something.
    expect(scanned).toBeGreaterThan(500);
    const worker = { client: 'client-1234', app: 'demo', channel: 'stable', release: '0123456789abcdef', staged: null, pending: 'fedcba9876543210', caps: { sync: true, periodicSync: false, quota: 2e11, usage: 3.5, compactPlans: true, planRefs: true, swIds: true }, recorded: 'abc123' };
    expect(scanWorkerBody(JSON.stringify(worker))).toEqual(worker);
    // Another spelling of the same body goes the JSON way, to the same request.
    const { caps, ...rest } = worker;
    expect(scanWorkerBody(JSON.stringify({ caps, ...rest }))).toBeNull();
    expect(parseCheckIn(JSON.stringify({ caps, ...rest }))).toEqual(worker);
  });
});
