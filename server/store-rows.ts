/**
 * Rows as both stores read them, and their mapping to the store's types: the SQLite and
 * PostgreSQL schemas have the same columns. The one difference, how a boolean comes back (SQLite
 * 0/1, PostgreSQL true/false), is absorbed here.
 */
import type { ChannelState, ReleaseManifest } from '../protocol/index.js';
import { isScope, type StoredToken } from './admin-token.js';
import type { StoredRelease } from './store.js';

export interface TokenRow { id: string; sha256: string; scopes: string; name: string | null; created_at: number }
export const toToken = (r: TokenRow): StoredToken => ({ id: r.id, sha256: r.sha256, scopes: r.scopes.split(',').filter(isScope), name: r.name, createdAt: r.created_at });

export interface ReleaseRow { manifest: string; seq: number; published_at: number; id_covers_sw: boolean | number }
/** The columns `toRelease` reads. */
export const RELEASE_COLUMNS = 'manifest, seq, published_at, id_covers_sw';
export const toRelease = (r: ReleaseRow): StoredRelease => ({
  manifest: JSON.parse(r.manifest) as ReleaseManifest, seq: r.seq, publishedAt: r.published_at, idCoversSw: Boolean(r.id_covers_sw),
});

export interface ChannelRow {
  app: string; name: string; release: string; previous: string | null; percent: number; activation: ChannelState['activation']; updated_at: number;
  paused: boolean | number; paused_reason: string | null; minimum: string | null; sample_since: number;
}
export const toChannel = (r: ChannelRow): ChannelState => ({
  name: r.name, app: r.app, release: r.release, previous: r.previous, percent: r.percent, activation: r.activation,
  paused: Boolean(r.paused), pausedReason: r.paused_reason, minimum: r.minimum, sampleSince: r.sample_since, updatedAt: r.updated_at,
});
