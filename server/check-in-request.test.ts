import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CheckInRequest, UpdraftError } from '../protocol/index.js';
import { fastCheckIn, parseCheckIn } from './check-in-request.js';

const release = fc.oneof(fc.constant(null), fc.stringMatching(/^[0-9a-f]{16}$/), fc.string({ maxLength: 20 }));
const body = fc.record(
  {
    client: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), fc.string({ maxLength: 70 })),
    app: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), fc.string({ maxLength: 70 })),
    channel: fc.oneof(fc.constantFrom('stable', 'beta'), fc.string({ maxLength: 5 })),
    release,
    staged: fc.oneof(release, fc.constant(undefined)),
    caps: fc.oneof(
      fc.record({ sync: fc.boolean(), periodicSync: fc.boolean(), quota: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 })), usage: fc.double({ noNaN: true, min: 0 }) }, { requiredKeys: ['sync', 'periodicSync'] }),
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
});
