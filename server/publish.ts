import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import * as v from 'valibot';
import {
  MANIFEST_FILE, Name, PATHS, ReleaseManifest, UpdraftError, parse,
  type ActivationPolicy, type Asset, type ChannelAnswer, type PublishResponse,
} from '../protocol/index.js';
import { AdminClient, CliError } from './admin-client.js';

export interface PublishOptions {
  channel?: string;
  /** @default 100 when `channel` is given: publishing to a channel means "this is the release now" unless told otherwise. */
  percent?: number;
  activation?: ActivationPolicy;
  /** Called once the server said which parts it lacks (`path` null), then after each upload. */
  onProgress?: (progress: PublishProgress) => void;
  /** Uploads in flight at once. @default 4 */
  concurrency?: number;
}

export interface PublishProgress {
  /** The part just uploaded, or null for the first call, before any upload. */
  path: string | null;
  partsDone: number;
  /** Parts to upload: the ones the server lacked. */
  partsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface PublishResult extends PublishResponse {
  app: string;
  /** The version label the server stored: on a re-publish (`created: false`), the release's first one. */
  version: string;
  /**
   * Only when the release already existed with another version label: this build's, which the
   * server did not store (a release id covers the files, not the label).
   */
  builtVersion?: string;
  /** Distinct parts in the release (assets and sw). */
  parts: number;
  /** Parts the server lacked and that were uploaded. */
  uploaded: number;
  bytes: number;
  /**
   * The channel's state after the change, or null without `channel`. `moved: false` (with a
   * `reason`) when it was left on a newer release: a publish only moves a channel forward, so of
   * two racing publishes the newer release stays the target whichever commits last.
   */
  channel: ChannelAnswer | null;
}

/** What the server says about one part's bytes. */
const PART_CODES = new Set(['hash_mismatch', 'size_mismatch', 'body_too_large']);

async function readDistFile(dist: string, path: string): Promise<Uint8Array> {
  const root = resolve(dist);
  const file = resolve(join(root, path));
  // The manifest schema already forbids "..", this guards against a hand-edited one.
  if (!file.startsWith(root + sep)) throw new CliError('invalid_path', `${path} escapes ${dist}`);
  try {
    return await readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && path === MANIFEST_FILE) {
      // No folder at all is usually a build not run yet (or another outDir), not a build without the plugin.
      if (!existsSync(root)) throw new CliError('io', `${dist} does not exist: build the app first (vite build), or name its outDir`);
      throw new CliError('io', `cannot read ${file}: ${dist} is not a build made with the updraft() Vite plugin`);
    }
    throw new CliError('io', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/** Uploads what the server lacks, publishes the release and optionally points a channel at it. */
export async function publish(client: AdminClient, dist: string, o: PublishOptions = {}): Promise<PublishResult> {
  // Before anything is uploaded: the server would refuse the name only once the release is stored.
  if (o.channel !== undefined && !v.is(Name, o.channel)) {
    throw new CliError('usage', `channel must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got ${JSON.stringify(o.channel)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(await readDistFile(dist, MANIFEST_FILE)));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError('invalid_json', `${join(dist, MANIFEST_FILE)} is not JSON`);
  }
  let manifest: ReleaseManifest;
  try {
    manifest = parse(ReleaseManifest, raw, MANIFEST_FILE);
  } catch (err) {
    throw new CliError((err as UpdraftError).code, (err as Error).message);
  }

  const bySha = new Map<string, Asset>();
  for (const part of [...manifest.assets, ...(manifest.sw ? [manifest.sw] : [])]) if (!bySha.has(part.sha256)) bySha.set(part.sha256, part);
  const { body: { missing } } = await client.missing([...bySha.keys()]);
  const queue = missing.flatMap((sha) => bySha.get(sha) ?? []);
  const progress: PublishProgress = {
    path: null, partsDone: 0, partsTotal: queue.length, bytesDone: 0, bytesTotal: queue.reduce((n, p) => n + p.size, 0),
  };
  o.onProgress?.({ ...progress });
  // A few uploads in flight hide the per-request latency; the server writes each blob on its own.
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const part = queue[next++]!;
      try {
        const data = await readDistFile(dist, part.path);
        await client.request('PUT', PATHS.adminBlob(part.sha256), data).catch((err: unknown) => {
          // The server names the part by its hash only ("body hashes to …", "limited to N bytes"): say which file.
          throw err instanceof CliError && PART_CODES.has(err.code) ? new CliError(err.code, `${join(dist, part.path)}: ${err.message}`) : err;
        });
        progress.partsDone += 1;
        progress.bytesDone += data.byteLength;
      } catch (err) {
        next = queue.length; // the first failure stops the other workers after their current part
        throw err;
      }
      o.onProgress?.({ ...progress, path: part.path });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, queue.length) }, worker));
  const bytes = progress.bytesDone;
  const { body: published } = await client.request<PublishResponse>('POST', PATHS.adminReleases, manifest, (a) => (a as PublishResponse).id === manifest.id);
  let channel: ChannelAnswer | null = null;
  if (o.channel) {
    const update = { release: manifest.id, percent: o.percent ?? 100, ...(o.activation ? { activation: o.activation } : {}), forwardOnly: true };
    try {
      channel = (await client.request<ChannelAnswer>('PUT', `${PATHS.adminChannel(o.channel)}?app=${encodeURIComponent(manifest.app)}`, update, (a) => typeof (a as ChannelAnswer).release === 'string')).body;
    } catch (err) {
      // The release is stored by now: say so, or the user would think nothing happened (a
      // publish-only token is refused only here, and nothing can check its scope up front).
      if (!(err instanceof CliError)) throw err;
      throw new CliError(err.code, `release ${manifest.id} published, but channel ${o.channel} was not changed: ${err.message}`);
    }
  }
  // The server's label (older servers do not say it: the manifest's, as they stored it on a first publish).
  const version = published.version ?? manifest.version;
  return {
    ...published, app: manifest.app, version, ...(version !== manifest.version ? { builtVersion: manifest.version } : {}),
    parts: bySha.size, uploaded: queue.length, bytes, channel,
  };
}

/**
 * `updraft publish` as a function, for scripts and test suites: publishes the build in `dist` to
 * the server at `server` with an admin `token`. Failures throw `CliError` with the server's code.
 */
export function publishDirectory(dist: string, o: PublishOptions & { server: string; token: string }): Promise<PublishResult> {
  return publish(new AdminClient(o.server, o.token), dist, o);
}
