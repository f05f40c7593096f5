import * as v from 'valibot';
import { ActivationPolicy } from './plan.js';
import { ReleaseId, Sha256 } from './release.js';

export const MissingBlobsRequest = v.object({ sha256s: v.pipe(v.array(Sha256), v.maxLength(100_000)) });
export type MissingBlobsRequest = v.InferOutput<typeof MissingBlobsRequest>;
export interface MissingBlobsResponse { missing: string[] }

export interface PublishResponse { id: string; seq: number; created: boolean }

/** Point a channel at a release. Omitted fields keep their current value. */
export const ChannelUpdate = v.object({
  release: ReleaseId,
  /** Share of clients (0-100) offered `release`; the others stay on the channel's previous release. @default 100 */
  percent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  activation: v.optional(ActivationPolicy),
});
export type ChannelUpdate = v.InferOutput<typeof ChannelUpdate>;

export interface ChannelState {
  name: string;
  app: string;
  release: string;
  /** The release clients outside the rollout stay on (the one before `release`), or null. */
  previous: string | null;
  percent: number;
  activation: 'next-navigation' | 'prompt' | 'immediate';
  updatedAt: number;
}

export interface ReleaseSummary { id: string; app: string; version: string; seq: number; createdAt: string; parts: number; bytes: number }

export interface StatusResponse {
  releases: ReleaseSummary[];
  channels: ChannelState[];
  /** Clients per channel and active release, from their latest check-in. */
  clients: { channel: string; release: string | null; count: number }[];
  /** Report counts per release and event (and code, for failures). */
  reportCounts: { release: string; event: string; code: string | null; count: number }[];
  recentReports: { client: string; release: string; event: string; code: string | null; at: number }[];
}
