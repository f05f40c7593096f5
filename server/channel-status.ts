import type { ChannelState, ChannelStatus, ReleaseLabel } from '../protocol/index.js';
import { rolledBackFrom } from './planner.js';
import type { ReleaseHealth } from './store.js';

/**
 * Pure: a channel as `GET admin/status` and the dashboard show it: its state, whether it is rolled
 * back (`rolledBackFrom`, named as `updraft rollout` names them), and the target's `health` as
 * the automatic pause counts it (`Store.releaseHealth` since the channel's `sampleSince`), so
 * `status`, its JSON and the dashboard say the same.
 */
export function channelStatus(ch: ChannelState, releases: ReadonlyMap<string, ReleaseLabel>, health: ReleaseHealth): ChannelStatus {
  const from = rolledBackFrom(ch, releases);
  const label = (id: string): ReleaseLabel => {
    const r = releases.get(id)!;
    return { id: r.id, version: r.version, seq: r.seq };
  };
  return {
    ...ch,
    ...(from !== null ? { rolledBack: { from: label(from), to: label(ch.release) } } : {}),
    health: { clients: health.clients, failed: health.failed, since: ch.sampleSince ?? 0 },
  };
}
