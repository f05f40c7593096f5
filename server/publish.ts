import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  MANIFEST_FILE, PATHS, ReleaseManifest, UpdraftError, parse,
  type ActivationPolicy, type Asset, type ChannelState, type PublishResponse,
} from '../protocol/index.js';
import { AdminClient, CliError } from './admin-client.js';

export interface PublishOptions {
  channel?: string;
  /** @default 100 when `channel` is given: publishing to a channel means "this is the release now" unless told otherwise. */
  percent?: number;
  activation?: ActivationPolicy;
}

export interface PublishResult extends PublishResponse {
  app: string;
  version: string;
  /** Distinct parts in the release (assets and sw). */
  parts: number;
  /** Parts the server lacked and that were uploaded. */
  uploaded: number;
  bytes: number;
  channel: ChannelState | null;
}

async function readDistFile(dist: string, path: string): Promise<Uint8Array> {
  const root = resolve(dist);
  const file = resolve(join(root, path));
  // The manifest schema already forbids "..", this guards against a hand-edited one.
  if (!file.startsWith(root + sep)) throw new CliError('invalid_path', `${path} escapes ${dist}`);
  try {
    return await readFile(file);
  } catch (err) {
    throw new CliError('io', `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Uploads what the server lacks, publishes the release and optionally points a channel at it. */
export async function publish(client: AdminClient, dist: string, o: PublishOptions = {}): Promise<PublishResult> {
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
  let bytes = 0;
  for (const sha of missing) {
    const part = bySha.get(sha);
    if (!part) continue;
    const data = await readDistFile(dist, part.path);
    await client.request('PUT', PATHS.adminBlob(sha), data);
    bytes += data.byteLength;
  }
  const { body: published } = await client.request<PublishResponse>('POST', PATHS.adminReleases, manifest);
  let channel: ChannelState | null = null;
  if (o.channel) {
    const update = { release: manifest.id, percent: o.percent ?? 100, ...(o.activation ? { activation: o.activation } : {}) };
    channel = (await client.request<ChannelState>('PUT', `${PATHS.adminChannel(o.channel)}?app=${encodeURIComponent(manifest.app)}`, update)).body;
  }
  return { ...published, app: manifest.app, version: manifest.version, parts: bySha.size, uploaded: missing.length, bytes, channel };
}

/**
 * `updraft publish` as a function, for scripts and test suites: publishes the build in `dist` to
 * the server at `server` with an admin `token`. Failures throw `CliError` with the server's code.
 */
export function publishDirectory(dist: string, o: PublishOptions & { server: string; token: string }): Promise<PublishResult> {
  return publish(new AdminClient(o.server, o.token), dist, o);
}
