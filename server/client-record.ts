import type { CheckInRequest } from '../protocol/index.js';
import type { ResolvedOptions } from './options.js';
import { hash53Parts } from './rollout-bucket.js';

/**
 * The acknowledgement of a client's state as this server process records it in the current
 * period of `clientRecordMs`: a hash of the process's epoch, the period and the state. A check-in
 * that sends back the token it was given, for the same state in the same period, needs no write;
 * any change (another release, channel or sync capability, a new period, a restarted server)
 * gives another token, and the record is written again.
 *
 * Quota and usage are left out on purpose: they move on every check-in, and a record up to one
 * period old is enough for them. Nothing needs to be secret: a client can only spare or cost
 * itself a write, as it could by sending another state.
 */
export function recordToken(o: Pick<ResolvedOptions, 'recordEpoch' | 'clientRecordMs'>, req: CheckInRequest, now: number): string | null {
  if (o.clientRecordMs === 0) return null;
  const period = Math.floor(now / o.clientRecordMs);
  // Hashed part by part: one string of them all cost more to build than to hash (4 % of a check-in).
  const flags = (req.caps.sync ? 1 : 0) + (req.caps.periodicSync ? 2 : 0);
  return hash53Parts([o.recordEpoch, String(period), req.app, req.client, req.channel, req.release ?? '-', req.staged ?? '-', String(flags)]).toString(36);
}
