import type { ChannelState, Report } from '../protocol/index.js';
import type { ReleaseHealth, Store } from './store.js';

export interface AutoPauseOptions {
  /** Share of reporting clients (0-1) that failed at which the channel pauses. */
  threshold: number;
  /** Distinct reporting clients needed before the rate counts. */
  minSample: number;
}

/** Events that make a client part of a release's sample, or count it as failed. */
const SAMPLE: ReadonlySet<Report['event']> = new Set(['downloaded', 'activated', 'failed', 'boot-failed']);

/**
 * Pure: why a release's reports should pause its rollout, or null. The rate is failed clients
 * (`failed` or `boot-failed`) over clients that reported `downloaded`, `activated` or `failed`,
 * leaving out failures about the device rather than the release (`NOT_THE_RELEASE` in store.ts);
 * it counts once that sample reaches `minSample`, and pauses at `rate >= threshold`.
 */
export function pauseReason(release: string, h: ReleaseHealth, o: AutoPauseOptions): string | null {
  if (h.clients < o.minSample || h.clients === 0) return null;
  const rate = h.failed / h.clients;
  if (rate < o.threshold) return null;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return `auto: failure rate ${pct(rate)} (${h.failed} of ${h.clients} clients) on ${release} reached ${pct(o.threshold)}`;
}

/**
 * After a report batch is stored: pauses every unpaused channel whose target one of the reports
 * is about and whose failure rate, over the reports received since the channel last started
 * offering that target (created, moved or resumed: `sampleSince`), crossed the threshold. Returns
 * the channels it paused (the caller drops cached check-in answers when there are any).
 */
export async function autoPause(store: Store, reports: readonly Report[], o: AutoPauseOptions, now: number): Promise<ChannelState[]> {
  const byApp = new Map<string, Set<string>>();
  for (const r of reports) {
    if (!SAMPLE.has(r.event)) continue;
    const set = byApp.get(r.app) ?? new Set<string>();
    set.add(r.release);
    byApp.set(r.app, set);
  }
  const paused: ChannelState[] = [];
  for (const [app, releases] of byApp) {
    const targets = (await store.listChannels(app)).filter((ch) => !ch.paused && releases.has(ch.release));
    const reasons = new Map<string, string | null>();
    for (const ch of targets) {
      // Only the reports since the channel last started offering its release (`sampleSince`): a
      // resume must not be undone by the very failures that caused the pause.
      const since = ch.sampleSince ?? 0;
      const key = `${ch.release}\n${since}`;
      if (!reasons.has(key)) reasons.set(key, pauseReason(ch.release, await store.releaseHealth(app, ch.release, since), o));
      const reason = reasons.get(key);
      if (!reason) continue;
      const state = await store.pauseChannel(app, ch.name, ch.release, reason, now);
      if (state) paused.push(state);
    }
  }
  return paused;
}
