import { PATHS, joinUrl, type ChannelState, type CheckInRequest, type CheckInResponse, type Plan, type ReleaseManifest, type Task } from '../protocol/index.js';
import { planIdFor, rolloutBucket, spreadOffset } from './rollout-bucket.js';

export interface KnownRelease { manifest: ReleaseManifest; seq: number }

export interface PlannerOptions {
  /** Seconds until the next check-in. */
  checkInInterval: number;
  /** Downloads start at `now + [0, spreadMs)`, per client. */
  spreadMs: number;
  planTtlMs: number;
}

export interface PlannerInput {
  client: CheckInRequest;
  channel: ChannelState | null;
  /** Must hold the channel's release and previous, and the client's release when the server knows it. */
  releases: ReadonlyMap<string, KnownRelease>;
  /** Base URL of this server, ending in `/` (sources are `<origin>v1/blobs/<sha>`). */
  origin: string;
  /** CDN base URLs, tried before the origin in this order. */
  cdn: readonly string[];
  /** Server clock, epoch ms. */
  now: number;
  options: PlannerOptions;
  /** Rollout bucket 0-99 of this client for a target; tests pass a fixed one. @default rolloutBucket */
  bucket?: (clientId: string, releaseId: string) => number;
}

export type Decision = CheckInResponse;

/** Which release the channel offers this client: the rollout target inside the bucket, else the previous one. */
export function targetFor(client: string, channel: ChannelState, bucket = rolloutBucket): string | null {
  if (channel.percent >= 100) return channel.release;
  return bucket(client, channel.release) < channel.percent ? channel.release : channel.previous;
}

/** Pure: what this client should do now. No IO, no clock; every input is passed in. */
export function decide(input: PlannerInput): Decision {
  const { client, channel, releases, now, options } = input;
  const current: Decision = { status: 'current', nextCheckIn: options.checkInInterval };
  if (!channel || channel.app !== client.app) return current;

  const to = targetFor(client.client, channel, input.bucket);
  if (to === null || to === client.release || to === client.staged) return current;
  const target = releases.get(to);
  if (!target || target.manifest.app !== client.app) return current;

  const have = new Set(client.release ? (releases.get(client.release)?.manifest.assets ?? []).map((a) => a.sha256) : []);
  const notBefore = now + spreadOffset(client.client, to, options.spreadMs);
  const fetches: Task[] = [];
  const seen = new Set<string>();
  for (const asset of target.manifest.assets) {
    if (have.has(asset.sha256) || seen.has(asset.sha256)) continue;
    seen.add(asset.sha256);
    const path = PATHS.blob(asset.sha256);
    fetches.push({
      id: `fetch:${asset.sha256}`,
      kind: 'fetch',
      after: [],
      sha256: asset.sha256,
      size: asset.size,
      sources: [...input.cdn.map((base) => joinUrl(base, path)), joinUrl(input.origin, path)],
      notBefore,
    });
  }
  const tasks: Task[] = [
    ...fetches,
    { id: 'install', kind: 'install', after: fetches.map((t) => t.id) },
    { id: 'report:downloaded', kind: 'report', event: 'downloaded', after: ['install'] },
    { id: 'activate', kind: 'activate', after: ['install'] },
    { id: 'report:activated', kind: 'report', event: 'activated', after: ['activate'] },
  ];
  const plan: Plan = {
    planId: planIdFor(client.client, to, now),
    app: client.app,
    from: client.release,
    to,
    toSeq: target.seq,
    issuedAt: now,
    expiresAt: now + options.planTtlMs,
    activation: channel.activation,
    release: target.manifest,
    tasks,
  };
  return { status: 'update', plan, nextCheckIn: options.checkInInterval };
}
