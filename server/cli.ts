#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as v from 'valibot';
import { ActivationPolicy, Name, PATHS, type ChannelAnswer, type ChannelUpdate, type StatusResponse } from '../protocol/index.js';
import { AdminClient, CliError } from './admin-client.js';
import { SCOPES, generateToken, parseScopes, parseTokenFile, type ConfigToken, type Scope } from './admin-token.js';
import { generateKeyFiles, signerFromFiles } from './keys-command.js';
import { listensEverywhere } from './listen-url.js';
import { startServer } from './node.js';
import { DEFAULT_CHECK_IN_INTERVAL, DEFAULT_PLAN_TTL_MS, OPTION_RANGES, maxSpreadMs, resolveCapacity } from './options.js';
import { isPostgresLocation, openStore, redactStoreLocation } from './open-store.js';
import { publish, type PublishProgress, type PublishResult } from './publish.js';
import { CONTROL } from '../protocol/label.js';
import { isHeaderValue } from './security-headers.js';
import type { Budget } from './slot-ledger.js';
import { formatBytes, formatStatus, releaseLabel } from './status-format.js';

const HELP = `updraft — server-directed updates for web apps

Usage:
  updraft serve   [--port 8787] [--host 127.0.0.1] [--data .updraft] [--db postgres://...] [--token T] [--cdn URL]...
                  [--app A] [--channel stable] [--check-in-interval S] [--spread-ms N]
                  [--public-url URL] [--capacity JSON] [--token-file F] [--upload-limit BYTES] [--csp POLICY]
                  [--signing-key FILE]... [--plan-ref-min-bytes N]
  updraft keys generate [--out updraft-signing] [--force] [--json]
  updraft publish <dist> [--channel C] [--percent P] [--activation POLICY] [--json] [--progress]
  updraft rollout <channel> [--release ID] [--percent P] [--activation POLICY] [--pause [--reason TEXT] | --resume]
                  [--minimum ID|none] [--app A] [--json]
  updraft status  [--app A] [--json] [--verbose]
  updraft tokens  create --scope publish,rollout,read|all [--name N] [--data .updraft] [--db postgres://...] [--json]
  updraft tokens  list [--data .updraft] [--db postgres://...] [--json]
  updraft tokens  revoke <id> [--data .updraft] [--db postgres://...]
  updraft --version

Common: --server URL (env UPDRAFT_SERVER, default http://127.0.0.1:8787/); a request with no answer
                     within UPDRAFT_TIMEOUT seconds (default 30, part uploads more) is unreachable
        --token T    (env UPDRAFT_TOKEN): publish needs the publish scope (and rollout with --channel),
                     rollout the rollout scope, status the read scope
        -q, --quiet  print nothing but errors (--json output, serve's URL and a created token still print)
        -v, --verbose  publish: each uploaded part; status: every release and the latest reports
        -h, --help   this text, anywhere on the line
publish --channel without --percent sets 100%, and moves the channel only forward (never to a
release older than its own). rollout keeps omitted fields; --release of an older release rolls back
(every client, 100% unless --percent); a new --release resumes a paused channel.
--minimum: clients on an older release update with the immediate policy (none clears it); it may
not be newer than the channel's release (a roll back below it must give --minimum too).
publish shows progress on stderr when it is a terminal; --progress forces it, --quiet hides it.
serve keeps its state in SQLite under --data unless --db names a PostgreSQL; blobs stay under --data
(servers sharing one --db need one shared --data, or a CDN in front of one origin).
serve --token T (or UPDRAFT_TOKEN) is a token with every scope; --token-file F (or UPDRAFT_TOKEN_FILE)
holds more, one "<scopes> <token>" a line; tokens created with \`updraft tokens create\` (stored as
SHA-256 hashes in --data/--db, printed once) count at once, and revoke ends them at once.
tokens and keys work on local files (the store, key files): --server and --token do not apply.
--upload-limit BYTES caps one part upload (default 512 MiB); --csp POLICY sets a Content-Security-Policy
on the served app (none by default).
--capacity '{"origin":{"bytesPerSecond":5e7,"requestsPerSecond":500}}' books download slots under a
budget per source (origin, or a --cdn URL); servers sharing one --db book them against one budget.
--signing-key (env UPDRAFT_SIGNING_KEY, comma-separated files) signs every plan; give two during a
key rotation. keys generate writes <out>.key (keep it secret) and <out>.pub (the plugin's publicKeys).
POLICY: next-navigation | prompt | immediate
Errors print one line, \`updraft: <code>: <message>\`, and exit with status 1.`;

const COMMON = {
  server: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options'];

function args<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('usage', (err as Error).message);
  }
}

/**
 * A numeric flag. Only plain decimals: `Number()` would read '' as 0 (a silent `--percent ''`
 * halting a rollout), '0x32' as 50 and '1e3' as 1000.
 */
function num(value: string | undefined, flag: string, min: number, max = Infinity, integer = false, why = ''): number | undefined {
  if (value === undefined) return undefined;
  const n = (integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new CliError('usage', `--${flag} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]${why}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A flag that counts (a port, bytes, seconds, milliseconds): digits only, in [min, max]. */
const int = (value: string | undefined, flag: string, [min, max]: readonly [number, number], why = '') => num(value, flag, min, max, true, why);

function policy(value: string | undefined): ActivationPolicy | undefined {
  if (value === undefined) return undefined;
  if (!(ActivationPolicy.options as readonly string[]).includes(value)) throw new CliError('usage', `--activation must be one of ${ActivationPolicy.options.join(', ')}`);
  return value as ActivationPolicy;
}

function client(values: { server?: string; token?: string }): AdminClient {
  const token = values.token ?? process.env.UPDRAFT_TOKEN;
  if (!token) throw new CliError('usage', 'an admin token is required: --token or UPDRAFT_TOKEN');
  // fetch refuses such a header before sending anything: it would read as `unreachable`.
  if (!isHeaderValue(token)) throw new CliError('usage', 'the admin token (--token or UPDRAFT_TOKEN) must be printable ASCII on one line');
  const timeout = process.env.UPDRAFT_TIMEOUT;
  if (timeout !== undefined && !(/^\d+(\.\d+)?$/.test(timeout) && Number(timeout) > 0)) {
    throw new CliError('usage', `UPDRAFT_TIMEOUT must be seconds, a positive number, got ${JSON.stringify(timeout)}`);
  }
  // Checked here: fetch would call `localhost:8787` a URL of scheme "localhost:" and fail as `unreachable (unknown scheme)`.
  const server = values.server ?? process.env.UPDRAFT_SERVER;
  if (server !== undefined) httpUrl(server, values.server !== undefined ? 'server' : 'server (UPDRAFT_SERVER)');
  return new AdminClient(server ?? 'http://127.0.0.1:8787/', token, timeout ? { timeoutSeconds: Number(timeout) } : {});
}

/**
 * `tokens` and `keys` work on local files, not over HTTP: a `--server` (or `--token`) given to
 * them was ignored, so `tokens create --server https://prod/` made a token in a local store no
 * server reads (saying only "created a new store").
 */
function localOnly(command: string, values: { server?: string; token?: string }, where: string): void {
  for (const flag of ['server', 'token'] as const) {
    if (values[flag] !== undefined) throw new CliError('usage', `${command} works on ${where}, not through a server: --${flag} does not apply`);
  }
}

/**
 * `--public-url` and `--cdn`: base URLs plans name as fetch sources. A bad one would start fine
 * and put an invalid source in every plan, so no client could update.
 */
function httpUrl(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('usage', `--${flag} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('usage', `--${flag} must be http(s), got ${JSON.stringify(value)}`);
  return url.href;
}

/** `--capacity '{"origin":{"bytesPerSecond":5e7}}'`: download budget per source, checked by resolveCapacity as for API users. */
function capacity(value: string, cdn: readonly string[]): Record<string, Budget> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new CliError('usage', `--capacity must be JSON, e.g. '{"origin":{"bytesPerSecond":50000000}}'`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError('usage', '--capacity must be a JSON object of budgets per source');
  try {
    return resolveCapacity(parsed as Record<string, Budget>, cdn);
  } catch (err) {
    throw new CliError('usage', `--${(err as Error).message}`);
  }
}

/** `--db`: PostgreSQL only; SQLite is where `--data` says. */
function postgresUrl(value: string): string {
  if (!isPostgresLocation(value)) throw new CliError('usage', `--db must be a postgres:// URL (SQLite lives in --data), got ${JSON.stringify(redactStoreLocation(value))}`);
  return value;
}

/** Errors of the file system with a path, from making --data, its blobs/ or temp files. */
const FS_CODES = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOSPC', 'ELOOP', 'ENAMETOOLONG']);

/**
 * What failed while opening a store and its data directory: the disk (`io`, naming the path; a
 * --data that is a file, unwritable, read-only), SQLite's own open (`io`, naming updraft.db), or
 * a PostgreSQL (`db`, password redacted). Anything else is not the user's to fix: `internal`.
 */
function storeError(err: NodeJS.ErrnoException, location: string): Error {
  if (typeof err.path === 'string' && err.code && FS_CODES.has(err.code)) return new CliError('io', `cannot use ${err.path}: ${err.message}`);
  if (typeof err.code === 'string' && err.code.startsWith('SQLITE_')) return new CliError('io', `cannot open ${resolve(location, 'updraft.db')}: ${err.message}`);
  if (isPostgresLocation(location)) return new CliError('db', `cannot open ${redactStoreLocation(location)}: ${err.message}`);
  return err;
}

async function serve(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' }, cdn: { type: 'string', multiple: true },
    app: { type: 'string' }, channel: { type: 'string' }, 'check-in-interval': { type: 'string' }, 'spread-ms': { type: 'string' },
    'public-url': { type: 'string' }, capacity: { type: 'string' }, 'token-file': { type: 'string' }, 'upload-limit': { type: 'string' },
    csp: { type: 'string' }, 'signing-key': { type: 'string', multiple: true }, 'plan-ref-min-bytes': { type: 'string' },
  });
  if (positionals.length) throw new CliError('usage', `serve takes no arguments (got ${positionals.join(' ')})`);
  // Each would start a server that serves nothing (no app or channel has such a name), keeps its
  // store where nobody looks (`--db mysql://x` was a SQLite directory `./mysql:/x`), or answers
  // every page 500 (a policy no header can carry).
  for (const flag of ['app', 'channel'] as const) {
    if (values[flag] !== undefined && !v.is(Name, values[flag])) throw new CliError('usage', `--${flag} must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got ${JSON.stringify(values[flag])}`);
  }
  if (values.db !== undefined) postgresUrl(values.db);
  if (values.csp !== undefined && !isHeaderValue(values.csp)) throw new CliError('usage', '--csp must be printable ASCII on one line (a header value)');
  // Checked, but kept as given: --capacity names them the same way.
  const cdn = values.cdn ?? [];
  for (const url of cdn) httpUrl(url, 'cdn');
  const budget = values.capacity ? capacity(values.capacity, cdn) : undefined;
  const planRefMinBytes = int(values['plan-ref-min-bytes'], 'plan-ref-min-bytes', OPTION_RANGES.planRefMinBytes);
  const tokenFile = values['token-file'] ?? process.env.UPDRAFT_TOKEN_FILE;
  const uploadLimit = int(values['upload-limit'], 'upload-limit', OPTION_RANGES.uploadLimit);
  // The ranges `resolveOptions` holds API users to, checked here to name the flag.
  const checkInInterval = int(values['check-in-interval'], 'check-in-interval', OPTION_RANGES.checkInInterval);
  const interval = checkInInterval ?? DEFAULT_CHECK_IN_INTERVAL;
  const spreadMs = int(
    values['spread-ms'], 'spread-ms', [0, maxSpreadMs(interval, DEFAULT_PLAN_TTL_MS, budget !== undefined)],
    budget ? ' (at most 12 h, half a plan\'s lifetime)' : ` (at most the check-in interval, ${interval} s, without --capacity, and 12 h, half a plan's lifetime)`,
  );
  const keyFiles = values['signing-key'] ?? (process.env.UPDRAFT_SIGNING_KEY ?? '').split(',').map((f) => f.trim()).filter(Boolean);
  const signer = await signerFromFiles(keyFiles);
  const adminToken = values.token ?? process.env.UPDRAFT_TOKEN;
  const running = await startServer({
    signer,
    port: int(values.port, 'port', [0, 65535]) ?? 8787,
    host: values.host ?? '127.0.0.1',
    dataDir: values.data ?? '.updraft',
    ...(values.db ? { db: values.db } : {}),
    token: adminToken,
    ...(tokenFile ? { tokens: await readTokenFile(tokenFile) } : {}),
    ...(uploadLimit !== undefined ? { uploadLimit } : {}),
    ...(values.csp ? { securityHeaders: { contentSecurityPolicy: values.csp } } : {}),
    cdn,
    checkInInterval,
    spreadMs,
    ...(planRefMinBytes !== undefined ? { planRefMinBytes } : {}),
    ...(values['public-url'] ? { publicUrl: httpUrl(values['public-url'], 'public-url') } : {}),
    ...(budget ? { capacity: budget } : {}),
    serve: { ...(values.app ? { app: values.app } : {}), channel: values.channel ?? 'stable' },
  }).catch((err: NodeJS.ErrnoException) => {
    // The default port is fixed (8787), so a second `serve`, or another app on it, is the usual case: say what to do.
    if (err.syscall === 'listen' && err.code === 'EADDRINUSE') {
      const { port: bound } = err as { port?: unknown };
      const port = typeof bound === 'number' ? bound : (values.port ?? '8787');
      throw new CliError('listen', `${err.message}: another process listens on port ${port} (an earlier updraft serve?): stop it, or pick another --port (0 for a free one)`);
    }
    if (err.syscall === 'listen') throw new CliError('listen', err.message);
    // A --host that names no address (a typo) fails before the listen itself.
    if (err.syscall === 'getaddrinfo') throw new CliError('listen', `--host ${values.host ?? ''} names no address to listen on (${err.message})`);
    throw storeError(err, values.db ?? values.data ?? '.updraft');
  });
  // stdout is the URL alone (scripts read it); one that listens on every interface says so, since
  // the loopback URL it prints is only how this machine reaches it.
  console.log(running.url);
  if (listensEverywhere(running.address) && !values.quiet) {
    stderr.write(`updraft: note: listening on every interface (--host ${values.host}), port ${running.port}: other machines reach it at this machine's address; ${running.url} is for this one\n`);
  }
  // Unsigned plans are fine in development and a risk in production: say so once, on stderr.
  if (!signer && !values.quiet) process.stderr.write('updraft: warning: plans are not signed (no --signing-key); workers built with publicKeys refuse them, others trust any plan this server sends. See SECURITY.md.\n');
  // With no token at all the admin API refuses everything: a `serve` started in a shell without
  // UPDRAFT_TOKEN looked fine until the first publish failed with `unauthorized`.
  if (!values.quiet && !adminToken && !tokenFile && (await running.store.listTokens()).length === 0) {
    process.stderr.write('updraft: warning: no admin token (--token, UPDRAFT_TOKEN, --token-file, or `updraft tokens create` on this store): the admin API refuses every request, so nothing can be published yet.\n');
  }
  // Client records still pending are written on the way out; if that fails, say so in one line
  // (what was lost is the last moments of last-seen times) and exit non-zero.
  const stop = () => void running.close().then(
    () => process.exit(0),
    (err: unknown) => {
      stderr.write(`updraft: db: stopping: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Where progress and verbose lines go: stderr, so stdout stays the command's result. */
const stderr = process.stderr;
/** Set while a progress line is on screen, so an error or verbose line first clears it. */
let clearProgress: (() => void) | null = null;

/**
 * One updating line on stderr, `uploading 3/8 parts  45.2 kB / 111.5 kB  1.2 MB/s`, redrawn at
 * most every 100 ms and cleared when the uploads end.
 */
function progressLine(): { update(p: PublishProgress, force?: boolean): void; end(): void } {
  const start = performance.now();
  let drawn = 0;
  const draw = (p: PublishProgress) => {
    const seconds = (performance.now() - start) / 1000;
    const rate = seconds > 0 && p.bytesDone > 0 ? `  ${formatBytes(Math.round(p.bytesDone / seconds))}/s` : '';
    stderr.write(`\r\x1b[Kuploading ${p.partsDone}/${p.partsTotal} parts  ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}${rate}`);
    clearProgress = () => void stderr.write('\r\x1b[K');
    drawn = performance.now();
  };
  return {
    update(p, force = false) {
      if (p.partsTotal === 0) return;
      if (force || p.path === null || p.partsDone === p.partsTotal || performance.now() - drawn >= 100) draw(p);
    },
    end() {
      clearProgress?.();
      clearProgress = null;
    },
  };
}

function publishSummary(r: PublishResult, seconds: number): string {
  // The release as the server has it: a re-publish keeps its first version label, which may not be this build's.
  const again = r.builtVersion !== undefined
    ? `, already published as ${r.version}, not this build's ${r.builtVersion} (a release id covers the files, not the version label)`
    : ', already published';
  const head = `published ${r.id} (${r.app} ${r.version} #${r.seq})${r.created ? '' : again}`;
  const upload = `uploaded ${r.uploaded} of ${r.parts} parts, ${formatBytes(r.bytes)} in ${seconds.toFixed(1)} s`;
  return `${head}: ${upload}`;
}

async function publishCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    channel: { type: 'string' }, percent: { type: 'string' }, activation: { type: 'string' }, json: { type: 'boolean' },
    progress: { type: 'boolean' },
  });
  const [dist, ...extra] = positionals;
  if (!dist || extra.length) throw new CliError('usage', 'publish takes exactly one <dist> directory');
  const percent = num(values.percent, 'percent', 0, 100);
  const activation = policy(values.activation);
  // Both only describe a channel change: without --channel they would silently do nothing.
  if (!values.channel && (percent !== undefined || activation !== undefined)) {
    throw new CliError('usage', '--percent and --activation need --channel');
  }
  const admin = client(values);
  const line = !values.quiet && (values.progress || stderr.isTTY) ? progressLine() : null;
  const verbose = values.verbose && !values.quiet;
  const onProgress = (p: PublishProgress) => {
    if (verbose) {
      clearProgress?.();
      if (p.path === null) stderr.write(`${admin.server}: ${p.partsTotal} part(s) to upload, ${formatBytes(p.bytesTotal)}\n`);
      else stderr.write(`  uploaded ${p.path}\n`);
    }
    line?.update(p, verbose); // a verbose line just erased the progress line: draw it again
  };
  const start = performance.now();
  const result = await publish(admin, dist, {
    ...(values.channel ? { channel: values.channel } : {}),
    ...(percent !== undefined ? { percent } : {}),
    ...(activation ? { activation } : {}),
    onProgress,
  }).finally(() => line?.end());
  if (values.json) console.log(JSON.stringify(result));
  else if (!values.quiet) {
    console.log(publishSummary(result, (performance.now() - start) / 1000));
    if (result.channel?.moved === false) console.log(`channel ${result.channel.name} not moved: ${result.channel.reason ?? 'it targets a newer release'}`);
    if (result.channel) console.log(describeChannel(result.channel));
  }
}

/** A roll back says so, naming both releases as `status` does: otherwise it reads as any other move. */
const describeChannel = (ch: ChannelAnswer) =>
  `${ch.app}/${ch.name}: `
  + (ch.rolledBack
    ? `rolled back from ${releaseLabel(ch.rolledBack.from)} to ${releaseLabel(ch.rolledBack.to)} at ${ch.percent}% (activation ${ch.activation})`
    : `${ch.release} at ${ch.percent}% (previous ${ch.previous ?? 'none'}, activation ${ch.activation})`)
  + (ch.minimum ? `, minimum ${ch.minimum}` : '')
  + (ch.paused ? `, PAUSED${ch.pausedReason ? `: ${ch.pausedReason}` : ''}` : '');

async function rollout(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    release: { type: 'string' }, percent: { type: 'string' }, activation: { type: 'string' }, app: { type: 'string' }, json: { type: 'boolean' },
    pause: { type: 'boolean' }, resume: { type: 'boolean' }, reason: { type: 'string' }, minimum: { type: 'string' },
  });
  const [channel, ...extra] = positionals;
  if (!channel || extra.length) throw new CliError('usage', 'rollout takes exactly one <channel>');
  if (values.pause && values.resume) throw new CliError('usage', '--pause and --resume exclude each other');
  if (values.reason !== undefined && !values.pause) throw new CliError('usage', '--reason goes with --pause');
  const percent = num(values.percent, 'percent', 0, 100);
  const activation = policy(values.activation);
  const update: ChannelUpdate = {
    ...(values.release ? { release: values.release } : {}),
    ...(percent !== undefined ? { percent } : {}),
    ...(activation ? { activation } : {}),
    ...(values.pause ? { paused: true, ...(values.reason !== undefined ? { pausedReason: values.reason } : {}) } : {}),
    ...(values.resume ? { paused: false } : {}),
    ...(values.minimum !== undefined ? { minimum: values.minimum === 'none' ? null : values.minimum } : {}),
  };
  if (Object.keys(update).length === 0) throw new CliError('usage', 'rollout needs --release, --percent, --activation, --pause, --resume or --minimum');
  const query = values.app ? `?app=${encodeURIComponent(values.app)}` : '';
  const { body } = await client(values).request<ChannelAnswer>('PUT', PATHS.adminChannel(channel) + query, update, (a) => typeof (a as ChannelAnswer).release === 'string');
  if (values.json) console.log(JSON.stringify(body));
  else if (!values.quiet) console.log(describeChannel(body));
}

async function status(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { app: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length) throw new CliError('usage', `status takes no arguments (got ${positionals.join(' ')})`);
  const admin = client(values);
  const get = async (app: string | undefined) =>
    (await admin.request<StatusResponse>('GET', PATHS.adminStatus + (app ? `?app=${encodeURIComponent(app)}` : ''), undefined, isStatus)).body;
  const body = await get(values.app);
  if (values.json) return console.log(JSON.stringify(body));
  // A mistyped --app answers like an empty server ("no channels yet (0 releases published)"),
  // which reads as "publish first" rather than "no such app": name it, and the apps there are.
  if (values.app && body.releases.length === 0 && body.channels.length === 0) {
    const apps = [...new Set((await get(undefined)).releases.map((r) => r.app))];
    throw new CliError('unknown_app', `nothing published for app ${values.app} on ${admin.server}${apps.length ? ` (its apps: ${apps.join(', ')})` : ''}`);
  }
  // --quiet as everywhere: nothing but errors, so `status -q` checks the server and the token by exit status alone.
  if (values.quiet) return;
  // Client counts carry a channel name but no app: with several apps, ask for each app alone.
  const apps = [...new Set(body.channels.map((c) => c.app))];
  const parts = !values.app && apps.length > 1 ? await Promise.all(apps.map(get)) : [body];
  console.log(parts.map((p) => formatStatus(p, { verbose: values.verbose ?? false })).join('\n\n'));
}

const isStatus = (a: object) => (['releases', 'channels', 'clients', 'reportCounts', 'recentReports'] as const).every((k) => Array.isArray((a as StatusResponse)[k]));

async function keys(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } });
  if (positionals[0] !== 'generate' || positionals.length > 1) throw new CliError('usage', 'updraft keys generate [--out BASE] [--force] [--json]');
  localOnly('keys generate', values, 'local files');
  // `--out ''` or `--out dir/` named no file: the private key became a hidden `.key` in that directory.
  if (values.out !== undefined && (values.out === '' || /[/\\]$/.test(values.out))) {
    throw new CliError('usage', `--out is the keys' file name without .key/.pub (e.g. keys/updraft-signing), got ${JSON.stringify(values.out)}`);
  }
  const k = await generateKeyFiles(values.out ?? 'updraft-signing', values.force ?? false);
  if (values.json) return console.log(JSON.stringify(k));
  if (values.quiet) return;
  console.log(`${k.publicKey}
key id ${k.keyId}
private key: ${k.privateKeyFile} (keep it secret, off the build machine's public output)
public key:  ${k.publicKeyFile}
Next: updraft({ publicKeys: [<contents of ${k.publicKeyFile.split('/').pop()}>] }) in vite.config, and
      updraft serve --signing-key ${k.privateKeyFile.split('/').pop()}
Replacing a key clients already trust? Keep it beside the new one (both in publicKeys, both
      --signing-key) until the fleet runs that build: SECURITY.md, "Key rotation".`);
}

/** `--token-file`: read once at start; a bad line stops the server from starting rather than leaving a token unusable. */
async function readTokenFile(file: string): Promise<ConfigToken[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('io', `cannot read token file ${file}: ${(err as Error).message}`);
  }
  try {
    return parseTokenFile(text);
  } catch (err) {
    throw new CliError('usage', `token file ${file}: ${(err as Error).message}`);
  }
}

/**
 * `tokens create|list|revoke`: straight on the store (as \`serve\` opens it), not over HTTP, so
 * the first token needs no token. Only the SHA-256 is stored; the token is printed once.
 */
async function tokens(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, {
    scope: { type: 'string' }, name: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' },
  });
  const [action, ...rest] = positionals;
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new CliError('usage', 'tokens takes create, list or revoke');
  if (action === 'revoke' ? rest.length !== 1 : rest.length !== 0) throw new CliError('usage', action === 'revoke' ? 'tokens revoke takes exactly one <id>' : `tokens ${action} takes no arguments`);
  if (action !== 'create' && (values.scope !== undefined || values.name !== undefined)) throw new CliError('usage', '--scope and --name go with tokens create');
  localOnly(`tokens ${action}`, values, 'the store directly (--data, or --db)');
  // Printed by `tokens list` as it is: a line break or an escape sequence would forge lines there.
  if (values.name !== undefined && (values.name === '' || CONTROL.test(values.name))) throw new CliError('usage', '--name must be one line without control characters');
  let scopes: Scope[] = [];
  if (action === 'create') {
    if (!values.scope) throw new CliError('usage', `tokens create needs --scope (${SCOPES.join(', ')} or all, comma-separated)`);
    try {
      scopes = parseScopes(values.scope);
    } catch (err) {
      throw new CliError('usage', `--scope: ${(err as Error).message}`);
    }
  }
  const location = (values.db !== undefined ? postgresUrl(values.db) : undefined) ?? values.data ?? '.updraft';
  // SQLite creates a database wherever it is pointed: a mistyped --data would list an empty store,
  // or put a token where no server reads it. Only `create` may start a store (the first token can
  // come before the first `serve`), and it says so.
  const sqliteFile = isPostgresLocation(location) ? null : resolve(location, 'updraft.db');
  const fresh = sqliteFile !== null && !existsSync(sqliteFile);
  if (fresh && action !== 'create') throw new CliError('io', `no store at ${sqliteFile} (check --data; updraft serve or tokens create makes one)`);
  const store = await openStore(location).catch((err: NodeJS.ErrnoException) => {
    throw storeError(err, location);
  });
  try {
    if (action === 'create') {
      const { token, stored } = generateToken(scopes, values.name ?? null, Date.now());
      await store.insertToken(stored);
      if (fresh && !values.quiet) stderr.write(`updraft: note: created a new store at ${sqliteFile}\n`);
      if (values.json) console.log(JSON.stringify({ token, id: stored.id, scopes: stored.scopes, name: stored.name }));
      else {
        // The token on stdout alone (scripts capture it); what it is on stderr.
        console.log(token);
        if (!values.quiet) stderr.write(`token ${stored.id} (${stored.scopes.join(', ')}${stored.name ? `, ${stored.name}` : ''}): shown once, only its SHA-256 is stored\n`);
      }
    } else if (action === 'list') {
      const list = (await store.listTokens()).map(({ sha256: _, ...t }) => t);
      if (values.json) console.log(JSON.stringify(list));
      else if (!values.quiet) {
        for (const t of list) console.log(`${t.id}  ${t.scopes.join(',')}  ${new Date(t.createdAt).toISOString()}${t.name ? `  ${t.name}` : ''}`);
        if (list.length === 0) console.log('no tokens (updraft tokens create --scope ...)');
      }
    } else {
      const id = rest[0]!;
      if (!(await store.deleteToken(id))) throw new CliError('not_found', `no token ${id}`);
      if (!values.quiet) console.log(`revoked ${id}`);
    }
  } finally {
    await store.close();
  }
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { serve, keys, tokens, publish: publishCommand, rollout, status };

/**
 * This package's version, from its package.json: one level up from server/cli.ts (the repo), two
 * from dist/server/cli.js (the installed package).
 */
async function packageVersion(): Promise<string> {
  for (const candidate of ['../package.json', '../../package.json']) {
    const path = new URL(candidate, import.meta.url);
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(await readFile(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'updraft' && pkg.version) return pkg.version;
  }
  throw new CliError('internal', 'cannot find the updraft package.json beside the CLI');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  try {
    if (command === '--version' && rest.length === 0) {
      console.log(`updraft ${await packageVersion()}`);
      return 0;
    }
    const run = COMMANDS[command];
    if (!run) throw new CliError('usage', `unknown command ${command} (try --help)`);
    await run(rest);
    return 0;
  } catch (err) {
    const code = err instanceof CliError ? err.code : 'internal';
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    clearProgress?.();
    process.stderr.write(`updraft: ${code}: ${message}\n`);
    return 1;
  }
}

const exitCode = await main(process.argv.slice(2));
// `serve` keeps running on its open server; every other command ends here.
if (exitCode !== 0) process.exit(exitCode);
