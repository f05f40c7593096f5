import type { CheckInRequest } from '../protocol/index.js';
import type { ResolvedOptions } from './options.js';
import { hash53Parts } from './rollout-bucket.js';

export interface RecordCheck {
  /** The acknowledgement of this state, for the answer. */
  token: string;
  /** The client sent it back: its record already holds this state for this period, no write. */
  unchanged: boolean;
}

/**
 * The acknowledgement of a client's state as this server process records it in the current
 * period of `clientRecordMs`: a hash of the state, seeded with the process's epoch and the period.
 * A check-in that sends back the token it was given, for the same state in the same period, needs
 * no write; any change (another release, channel or sync capability, a new period, a restarted
 * server) gives another token, and the record is written again. Null when `clientRecordMs` is 0.
 *
 * Quota and usage are left out on purpose: they move on every check-in, and a record up to one
 * period old is enough for them. Nothing needs to be secret: a client can only spare or cost
 * itself a write, as it could by sending another state.
 */
export function checkRecord(o: Pick<ResolvedOptions, 'recordEpoch' | 'clientRecordMs'>, req: CheckInRequest, now: number): RecordCheck | null {
  if (o.clientRecordMs === 0) return null;
  const seed = periodSeed(o.recordEpoch, Math.floor(now / o.clientRecordMs));
  // Hashed part by part: one string of them all cost more to build than to hash.
  const h = hash53Parts([req.app, req.client, req.channel, req.release ?? '-', req.staged ?? '-', FLAGS[(req.caps.sync ? 1 : 0) + (req.caps.periodicSync ? 2 : 0)]!], seed);
  // Compared as a number, and the client's own string sent back: formatting a 53-bit number in base
  // 36 took longer than the hash. A value below 2^53 is read back exactly and one above cannot
  // equal the hash, so with no leading zero an equal number is toString(36)'s very spelling.
  const sent = req.recorded;
  if (sent !== undefined && sent.length <= 11 && (sent.length === 1 || sent[0] !== '0') && parseInt(sent, 36) === h) return { token: sent, unchanged: true };
  return { token: h.toString(36), unchanged: false };
}

const FLAGS = ['0', '1', '2', '3'];

/** The hash seed of one process epoch and period, kept for the period (one check-in after another shares it). */
function periodSeed(epoch: string, period: number): number {
  if (lastSeed.epoch !== epoch || lastSeed.period !== period) lastSeed = { epoch, period, seed: hash53Parts([epoch, String(period)]) % 0x100000000 };
  return lastSeed.seed;
}
let lastSeed = { epoch: '', period: Number.NaN, seed: 0 };
