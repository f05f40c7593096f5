import { UpdraftError, type ChannelState } from '../protocol/index.js';
import type { ChannelChange } from './store.js';

/**
 * Pure: a channel after `u`, from its state `old` (null: it is being created). Both stores use it
 * (PostgreSQL inside the row lock), so they agree on every rule:
 * - a new `release` makes the old one `previous`, and resumes the channel unless `paused` is given
 *   (a pause is about one target; pointing the channel elsewhere is the admin's decision);
 * - omitted fields keep their value (`release` too: the one `old` has); `pausedReason` lives only
 *   while paused;
 * - creating, moving or resuming the channel sets `sampleSince` (the automatic pause counts only
 *   the reports received since).
 */
export function nextChannel(old: ChannelState | null, app: string, name: string, u: ChannelChange, now: number): ChannelState {
  const release = u.release ?? old?.release;
  if (release === undefined) throw new UpdraftError('unknown_channel', `no channel ${name} for app ${app}: give a release to create it`);
  const moved = old !== null && old.release !== release;
  const paused = u.paused ?? (moved ? false : old?.paused ?? false);
  const pausedReason = !paused ? null : u.paused === true ? u.pausedReason ?? null : old?.pausedReason ?? null;
  return {
    name, app, release,
    previous: old ? (moved ? old.release : old.previous) : null,
    percent: u.percent ?? old?.percent ?? 100,
    activation: u.activation ?? old?.activation ?? 'next-navigation',
    paused, pausedReason,
    minimum: u.minimum !== undefined ? u.minimum : old?.minimum ?? null,
    // A new target, or a resume, starts the automatic pause's sample afresh (see `sampleSince`).
    sampleSince: old === null || moved || (old.paused && !paused) ? now : old.sampleSince ?? 0,
    updatedAt: now,
  };
}
