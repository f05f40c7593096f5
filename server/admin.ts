import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import {
  ChannelUpdate, MissingBlobsRequest, Name, PATHS, ReleaseManifest, UpdraftError, checkManifestConsistency, parse,
  type ChannelAnswer, type ChannelState, type MissingBlobsResponse, type PublishResponse, type ReleaseLabel, type StatusResponse,
} from '../protocol/index.js';
import { adminAuth, requireScope, type AdminEnv } from './admin-auth.js';
import { errorResponse, readJson } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { precompress } from './precompress.js';
import { releaseSummary } from './release-summary.js';
import { channelStatus } from './channel-status.js';
import type { ChannelChange, StoredRelease } from './store.js';

const RECENT_REPORTS = 50;
const SHA256 = /^[0-9a-f]{64}$/;

const tooLarge = (limit: number) => new UpdraftError('body_too_large', `blob uploads are limited to ${limit} bytes`);

/** The body's chunks, failing with `body_too_large` as soon as more than `limit` bytes arrived (the blob store then deletes its temp file). */
async function* chunksOf(body: ReadableStream<Uint8Array> | null, limit: number): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
      if (size > limit) throw tooLarge(limit);
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Every admin route names the scope it needs: `publish` (parts and releases), `rollout` (channel
 * changes: rollout, pause, resume, minimum) or `read` (status). Authentication runs first for all
 * of `v1/admin/*`: 401 `unauthorized` without a known token, then 403 `forbidden` without the scope.
 */
export function adminRoutes(o: ResolvedOptions): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.use('/v1/admin/*', adminAuth(o.tokens));
  const jsonLimit = bodyLimit({
    maxSize: o.adminBodyLimit,
    onError: (c) => errorResponse(c, new UpdraftError('body_too_large', `admin bodies are limited to ${o.adminBodyLimit} bytes`)),
  });
  const publish = requireScope('publish');
  const rollout = requireScope('rollout');
  const read = requireScope('read');

  app.post(`/${PATHS.adminMissingBlobs}`, publish, jsonLimit, async (c) => {
    const { sha256s } = parse(MissingBlobsRequest, await readJson(c));
    const body: MissingBlobsResponse = { missing: await missingParts(o, sha256s) };
    return c.json(body);
  });

  app.put('/v1/admin/blobs/:sha256', publish, async (c) => {
    const sha256 = c.req.param('sha256');
    if (!SHA256.test(sha256)) throw new UpdraftError('invalid_hash', `not a lowercase hex sha256: ${sha256.slice(0, 80)}`);
    // Refuse a declared oversize body before writing a byte; a chunked one is cut off while streaming.
    if (Number(c.req.header('Content-Length')) > o.uploadLimit) throw tooLarge(o.uploadLimit);
    const written = await o.blobs.write(sha256, chunksOf(c.req.raw.body, o.uploadLimit));
    // Once per part, so serving never compresses: whole parts travel as small as brotli makes them.
    await precompress(o.blobs.pathFor(sha256));
    await o.store.putBlob(sha256, written.size);
    return c.json(written, 201);
  });

  app.post(`/${PATHS.adminReleases}`, publish, jsonLimit, async (c) => {
    const manifest = parse(ReleaseManifest, await readJson(c), 'release manifest');
    const problem = await checkManifestConsistency(manifest);
    if (problem) throw new UpdraftError('invalid_body', problem);
    const existing = await o.store.getRelease(manifest.id);
    if (existing) throwIfConflict(existing, manifest);
    const parts = [...manifest.assets, ...(manifest.sw ? [manifest.sw] : [])];
    const missing = await missingParts(o, parts.map((p) => p.sha256));
    if (missing.length > 0) {
      throw new UpdraftError('missing_parts', `${missing.length} part(s) not uploaded yet`, { missing });
    }
    const sizes = await o.store.blobSizes(parts.map((p) => p.sha256));
    const wrong = parts.find((p) => sizes.get(p.sha256) !== p.size);
    if (wrong) throw new UpdraftError('size_mismatch', `${wrong.path} is ${sizes.get(wrong.sha256)} bytes, manifest says ${wrong.size}`);
    const { seq, created } = await o.store.insertRelease(manifest, o.now());
    // Another publish of this id may have committed since the check above (the store keeps the
    // first and says `created: false`): that one may be another app's, or carry another worker.
    const stored = created ? null : (await o.store.getRelease(manifest.id))!;
    if (stored) throwIfConflict(stored, manifest);
    // Queued, not computed: a release is usable without deltas (plans fetch those parts whole
    // until each lands), and computing them could hold this answer for minutes (one `maxMs` per
    // rewritten large file per earlier release). Also on a re-publish, which completes deltas a
    // crash or a full disk cut short.
    if (o.deltas) await o.deltas.queue.enqueue({ manifest, seq });
    if (created) o.checkInCache.invalidate();
    // What is stored: a re-publish keeps the first version label, whatever this manifest says.
    const body: PublishResponse = { id: manifest.id, seq, created, version: stored?.manifest.version ?? manifest.version };
    return c.json(body, created ? 201 : 200);
  });

  app.put('/v1/admin/channels/:name', rollout, jsonLimit, async (c) => {
    const name = parse(Name, c.req.param('name'), 'channel name');
    const update = parse(ChannelUpdate, await readJson(c), 'channel update');
    const app = appQuery(c);
    const current = update.release ? null : await currentChannel(o, name, app);
    const releaseId = update.release ?? current!.release;
    const release = await o.store.getRelease(releaseId);
    if (!release) throw new UpdraftError('unknown_release', `no release ${releaseId}`);
    const appName = app ?? release.manifest.app;
    if (appName !== release.manifest.app) {
      throw new UpdraftError('bad_request', `release ${releaseId} belongs to app ${release.manifest.app}, not ${appName}`);
    }
    if (update.minimum) {
      const minimum = await o.store.getRelease(update.minimum);
      if (!minimum) throw new UpdraftError('unknown_release', `no release ${update.minimum}`);
      if (minimum.manifest.app !== appName) throw new UpdraftError('bad_request', `minimum ${update.minimum} belongs to app ${minimum.manifest.app}, not ${appName}`);
    }
    // Without a release the store keeps the one the channel has when it writes: `releaseId` (read
    // above, for the checks) may have moved meanwhile, and writing it would undo that move.
    const change: ChannelChange = { ...update };
    // A release older than the one the channel targets is a roll back.
    const old = update.release ? await o.store.getChannel(appName, name) : null;
    const from = old && old.release !== releaseId ? await o.store.getRelease(old.release) : null;
    const rollsBack = from !== null && from.seq > release.seq;
    // A roll back is not staged: every client goes back, including those a partial rollout of
    // the newer release left out (they would otherwise be offered it as `previous`).
    if (rollsBack && update.percent === undefined) change.percent = 100;
    const state: ChannelState = await o.store.putChannel(appName, name, change, o.now());
    o.checkInCache.invalidate();
    const answer = await channelAnswer(o, name, update, state, release);
    // Said only when the store did move it from there (`forwardOnly` leaves it; another change may have come first).
    const rolledBack = rollsBack && state.release === releaseId && state.previous === from.manifest.id;
    return c.json(rolledBack ? { ...answer, rolledBack: { from: label(from), to: label(release) } } : answer);
  });

  app.get(`/${PATHS.adminStatus}`, read, async (c) => {
    const only = appQuery(c);
    const releases = (await o.store.listReleases(only)).map(releaseSummary);
    const byId = new Map(releases.map((r) => [r.id, r]));
    const channels = await o.store.listChannels(only);
    const body: StatusResponse = {
      releases,
      channels: await Promise.all(channels.map(async (ch) => channelStatus(ch, byId, await o.store.releaseHealth(ch.app, ch.release, ch.sampleSince ?? 0)))),
      clients: await o.store.countClients(only),
      reportCounts: await o.store.reportCounts(only),
      recentReports: await o.store.recentReports(RECENT_REPORTS, only),
      ...(o.deltas ? { deltas: { pending: o.deltas.queue.pending(only), elsewhere: await o.deltas.queue.pendingElsewhere(only) } } : {}),
    };
    return c.json(body);
  });
  return app;
}

/** `release_conflict` when the stored release under the manifest's id is not this manifest's to re-publish. */
function throwIfConflict(existing: StoredRelease, manifest: ReleaseManifest): void {
  if (existing.manifest.app !== manifest.app) {
    throw new UpdraftError('release_conflict', `release ${manifest.id} already belongs to app ${existing.manifest.app}`);
  }
  // Ids cover sw.js since protocol 0.6, so this can only be an id of the older form (the app's
  // files only) sent with another worker. A release never changes: "already published" would
  // leave /sw.js the old worker, e.g. one that checks no signature.
  if ((existing.manifest.sw?.sha256 ?? null) !== (manifest.sw?.sha256 ?? null)) {
    throw new UpdraftError(
      'release_conflict',
      `release ${manifest.id} is already published with another sw.js: its id covers the app's files only (made by an Updraft before protocol 0.6, or edited by hand). Rebuild with this Updraft, whose release ids cover sw.js, and publish that release`,
      { published: existing.manifest.sw?.sha256 ?? null, sw: manifest.sw?.sha256 ?? null },
    );
  }
}

/**
 * `state` as the answer says it: for a `forwardOnly` change, also whether the channel moved, and
 * why not when the store left it on a newer release (a publish that committed first).
 */
async function channelAnswer(o: ResolvedOptions, name: string, update: ChannelUpdate, state: ChannelState, asked: StoredRelease): Promise<ChannelAnswer> {
  if (!update.forwardOnly) return state;
  if (state.release === asked.manifest.id) return { ...state, moved: true };
  const newer = await o.store.getRelease(state.release);
  const reason = `channel ${name} targets ${state.release}${newer ? ` (#${newer.seq})` : ''}, newer than ${asked.manifest.id} (#${asked.seq}): `
    + `a publish moves a channel only forward (\`updraft rollout ${name} --release ${asked.manifest.id}\` rolls it back)`;
  return { ...state, moved: false, reason };
}

const label = (r: StoredRelease): ReleaseLabel => ({ id: r.manifest.id, version: r.manifest.version, seq: r.seq });

/** The channel an update without `release` changes (pause, resume, minimum): it must exist, and be the only one of that name without `?app`. */
async function currentChannel(o: ResolvedOptions, name: string, app: string | undefined): Promise<ChannelState> {
  const found = (await o.store.listChannels(app)).filter((ch) => ch.name === name);
  if (found.length === 0) throw new UpdraftError('unknown_channel', `no channel ${name}${app ? ` for app ${app}` : ''}: give a release to create it`);
  if (found.length > 1) throw new UpdraftError('bad_request', `channel ${name} exists for several apps (${found.map((ch) => ch.app).join(', ')}): pass ?app= (the CLI's --app)`);
  return found[0]!;
}

/** A part counts as present only when both the store records it and its file exists. */
async function missingParts(o: ResolvedOptions, sha256s: readonly string[]): Promise<string[]> {
  const unique = [...new Set(sha256s)];
  const known = await o.store.blobSizes(unique);
  const missing: string[] = [];
  for (const sha of unique) {
    if (!known.has(sha) || (await o.blobs.size(sha)) === null) missing.push(sha);
  }
  return missing;
}

/** `?app=`, checked as a name: a value no app can have (a NUL byte, which PostgreSQL refuses outright) is a 400, not a query. */
function appQuery(c: Context): string | undefined {
  const value = c.req.query('app');
  return value ? parse(Name, value, 'app') : undefined;
}
