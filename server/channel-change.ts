import { UpdraftError, type ChannelState } from '../protocol/index.js';
import type { ChannelChange } from './store.js';

/** Release id → seq, of the releases `channelSeqIds` names (read in the store's transaction; releases never change). */
export type ChannelSeqs = ReadonlyMap<string, number>;

/** The releases whose seqs `nextChannel` compares: the channel's release, the one asked for and the minimum (kept or new). */
export function channelSeqIds(old: ChannelState | null, u: ChannelChange): string[] {
  const ids = [old?.release, u.release, u.minimum, old?.minimum].filter((id): id is string => typeof id === 'string');
  return [...new Set(ids)];
}

/**
 * Pure: a channel after `u`, from its state `old` (null: it is being created), or null when `u`
 * is `forwardOnly` and the channel targets a newer release than `u.release` (nothing to write).
 * Both stores use it inside their lock (SQLite's immediate transaction, PostgreSQL's row lock),
 * with `seqs` read there, so they agree on every rule and two changes never interleave:
 * - a new `release` makes the old one `previous`, and resumes the channel unless `paused` is given
 *   (a pause is about one target; pointing the channel elsewhere is the admin's decision);
 * - omitted fields keep their value (`release` too: the one `old` has); `pausedReason` lives only
 *   while paused;
 * - creating, moving or resuming the channel sets `sampleSince` (the automatic pause counts only
 *   the reports received since);
 * - the minimum is never newer than the release: clients below it would be told to update
 *   immediately to a release the channel does not offer. A change that would make it so, a new
 *   minimum or a roll back below the one set, is refused (`minimum_ahead`) unless it gives a
 *   minimum that fits (or null) too; the admin decides what the minimum becomes, it is not lowered
 *   or dropped behind their back. A change that does neither (a pause, a percentage) is never
 *   refused for it, so a channel stored before this rule can still be paused.
 */
export function nextChannel(
  old: ChannelState | null, app: string, name: string, u: ChannelChange, now: number, seqs: ChannelSeqs = new Map(),
): ChannelState | null {
  const release = u.release ?? old?.release;
  if (release === undefined) throw new UpdraftError('unknown_channel', `no channel ${name} for app ${app}: give a release to create it`);
  const moved = old !== null && old.release !== release;
  if (u.forwardOnly && moved && (seqs.get(old.release) ?? -Infinity) > (seqs.get(release) ?? Infinity)) return null;
  const minimum = u.minimum !== undefined ? u.minimum : old?.minimum ?? null;
  if (minimum !== null && (u.minimum || moved)) checkMinimum(app, name, minimum, release, seqs, u.minimum === undefined);
  const paused = u.paused ?? (moved ? false : old?.paused ?? false);
  const pausedReason = !paused ? null : u.paused === true ? u.pausedReason ?? null : old?.pausedReason ?? null;
  return {
    name, app, release,
    previous: old ? (moved ? old.release : old.previous) : null,
    percent: u.percent ?? old?.percent ?? 100,
    activation: u.activation ?? old?.activation ?? 'next-navigation',
    paused, pausedReason,
    minimum,
    // A new target, or a resume, starts the automatic pause's sample afresh (see `sampleSince`).
    sampleSince: old === null || moved || (old.paused && !paused) ? now : old.sampleSince ?? 0,
    updatedAt: now,
  };
}

function checkMinimum(app: string, name: string, minimum: string, release: string, seqs: ChannelSeqs, kept: boolean): void {
  const min = seqs.get(minimum);
  const target = seqs.get(release);
  // An unknown seq (a release the admin route has not checked: a direct store call) is not compared.
  if (min === undefined || target === undefined || min <= target) return;
  const where = `channel ${name} of app ${app}`;
  throw new UpdraftError(
    'minimum_ahead',
    kept
      ? `${where} has minimum ${minimum} (#${min}), newer than ${release} (#${target}): clients below it would be told to update immediately to a release the channel does not offer. Give a minimum at or below ${release} with the roll back, or clear it (\`updraft rollout ${name} --release ${release} --minimum none\`)`
      : `minimum ${minimum} (#${min}) is newer than ${release} (#${target}), the release ${where} offers: clients below it would be told to update immediately to a release the channel does not offer. Point the channel at ${minimum} (or a newer release) first, or pick a minimum at or below ${release}`,
    { minimum, minimumSeq: min, release, releaseSeq: target },
  );
}
