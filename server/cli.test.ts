import { execFile, spawn, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, base64url, decodePublicKey, expandPlan, fromBase64url, joinUrl, planStatement, type CheckInResponse } from '../protocol/index.js';
import { fakeDist, writeDist } from './fake-dist.js';
import { startServer, type RunningServer } from './node.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'cli-token';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A command that should fail but serves instead is killed (code -1), not waited on forever.
    execFile(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('startServer + updraft CLI (child process)', () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-cli-'));
    server = await startServer({ dataDir: join(dir, 'data'), token: TOKEN });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({ UPDRAFT_SERVER: server.url, UPDRAFT_TOKEN: TOKEN });

  it('publishes a dist, a check-in gets a plan, status shows it, and data survive a restart on the same port', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const d = await fakeDist({ 'index.html': '<h1>cli</h1>', 'assets/app.js': 'run()' }, { app: 'demo', version: '1.2.3', sw: 'sw()' });
    await writeDist(join(dir, 'dist'), d);

    const pub = await cli(['publish', join(dir, 'dist'), '--channel', 'stable', '--json'], env());
    expect(pub.stderr).toBe('');
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ id: d.manifest.id, seq: 1, created: true, parts: 3, uploaded: 3, bytes: 21 });
    const again = await cli(['publish', join(dir, 'dist'), '--server', server.url, '--token', TOKEN], {});
    expect(again.stdout).toMatch(new RegExp(`^published ${d.manifest.id} \\(demo 1\\.2\\.3 #1\\), already published: uploaded 0 of 3 parts, 0 B in \\d+\\.\\d s\n$`));
    // Not a terminal: no progress on stderr.
    expect(again.stderr).toBe('');

    const checkIn = await fetch(joinUrl(server.url, PATHS.checkIn), {
      method: 'POST',
      body: JSON.stringify({ client: 'client-cli-0001', app: 'demo', channel: 'stable', release: null, caps: { sync: false, periodicSync: false, swIds: true } }),
    });
    const body = (await checkIn.json()) as CheckInResponse;
    expect(body.status).toBe('update');
    const fetchTask = body.status === 'update' ? body.plan.tasks.find((t) => t.kind === 'fetch') : undefined;
    expect(fetchTask && 'sources' in fetchTask && fetchTask.sources[0]).toMatch(new RegExp(`^${server.url}v1/blobs/`));
    expect((await fetch(server.url)).headers.get('Content-Type')).toMatch(/^text\/html/);

    const status = await cli(['status'], env());
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`demo/stable  →  ${d.manifest.id} (1.2.3 #1)  100%  next-navigation`);
    expect(status.stdout).toMatch(/^ {2}\(none yet\) +installing +1 +100%$/m);
    const json = await cli(['status', '--json'], env());
    expect(JSON.parse(json.stdout).clients).toEqual([{ channel: 'stable', release: null, count: 1 }]);
    // The release's parts and bytes as publish counted them ("3 parts, 21 B"): sw.js included.
    expect(JSON.parse(json.stdout).releases).toEqual([expect.objectContaining({ id: d.manifest.id, parts: 3, bytes: 21 })]);
    expect((await cli(['status', '--verbose'], env())).stdout).toMatch(new RegExp(`^  ${d.manifest.id} +demo +1\\.2\\.3 #1 +\\S+ +3 +21 B$`, 'm'));

    // "Server down": the port refuses connections, then a restart on the same port has everything.
    const port = server.port;
    await server.close();
    const down = await cli(['status'], env());
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^updraft: unreachable: /);
    server = await startServer({ dataDir: join(dir, 'data'), token: TOKEN, port });
    expect(server.port).toBe(port);
    const back = await cli(['rollout', 'stable', '--release', d.manifest.id, '--percent', '40'], env());
    expect(back.stdout.trim()).toBe(`demo/stable: ${d.manifest.id} at 40% (previous none, activation next-navigation)`);
  });

  it.each([
    [['frobnicate'], /^updraft: usage: unknown command frobnicate/],
    [['status', '--bogus'], /^updraft: usage: Unknown option '--bogus'/],
    [['status', '--token', 'wrong'], /^updraft: unauthorized: /],
    [['publish', '/nonexistent/dist'], /^updraft: io: \/nonexistent\/dist does not exist: build the app first/],
    [['rollout', 'stable', '--release', 'ffffffffffffffff'], /^updraft: unknown_release: /],
    [['rollout', 'stable', '--release', 'ffffffffffffffff', '--percent', '200'], /^updraft: usage: --percent/],
    [['rollout', 'stable'], /^updraft: usage: rollout needs --release, /],
    [['rollout', 'stable', '--pause', '--resume'], /^updraft: usage: --pause and --resume exclude each other/],
    [['rollout', 'stable', '--reason', 'x'], /^updraft: usage: --reason goes with --pause/],
    [['rollout', 'nochannel', '--pause'], /^updraft: unknown_channel: /],
    [['serve', '--port', '0', '--plan-ref-min-bytes', 'lots'], /^updraft: usage: --plan-ref-min-bytes must be an integer/],
  ])('%j fails with one line on stderr', async (args, pattern) => {
    const res = await cli(args, env());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(pattern);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('publish of a release already stored under another version label prints the stored one, and that this build\'s was not stored', async () => {
    const files = { 'index.html': '<h1>relabel</h1>' };
    const first = await fakeDist(files, { app: 'relabel', version: '1.0.0', sw: 'sw()' });
    const relabelled = await fakeDist(files, { app: 'relabel', version: '1.0.1', sw: 'sw()' });
    // The id covers the files, not the label: the same release.
    expect(relabelled.manifest.id).toBe(first.manifest.id);
    await writeDist(join(dir, 'relabel-1'), first);
    await writeDist(join(dir, 'relabel-2'), relabelled);
    expect((await cli(['publish', join(dir, 'relabel-1')], env())).code).toBe(0);
    const again = await cli(['publish', join(dir, 'relabel-2')], env());
    expect(again.stderr).toBe('');
    expect(again.stdout).toMatch(new RegExp(`^published ${first.manifest.id} \\(relabel 1\\.0\\.0 #1\\), already published as 1\\.0\\.0, not this build's 1\\.0\\.1 \\(a release id covers the files, not the version label\\): uploaded 0 of 2 parts`));
    const json = JSON.parse((await cli(['publish', join(dir, 'relabel-2'), '--json'], env())).stdout);
    expect(json).toMatchObject({ id: first.manifest.id, seq: 1, created: false, version: '1.0.0', builtVersion: '1.0.1' });
    // The same label again: no builtVersion, the plain "already published".
    const same = await cli(['publish', join(dir, 'relabel-1'), '--json'], env());
    expect(JSON.parse(same.stdout)).not.toHaveProperty('builtVersion');
    expect(JSON.parse(same.stdout)).toMatchObject({ created: false, version: '1.0.0' });
    expect((await cli(['status', '--app', 'relabel', '--verbose'], env())).stdout).toMatch(new RegExp(`^  ${first.manifest.id} +relabel +1\\.0\\.0 #1 `, 'm'));
  });

  it('numeric flags take plain decimals only: an empty, hex, exponent or fractional value where an integer is needed is a usage error', async () => {
    const data = join(dir, 'numbers-data');
    const cases: [string[], RegExp][] = [
      // '' used to read as 0: a rollout silently halted at 0 %.
      [['rollout', 'stable', '--app', 'demo', '--percent', ''], /^updraft: usage: --percent must be a number in \[0, 100\], got ""\n$/],
      [['rollout', 'stable', '--app', 'demo', '--percent', '0x32'], /^updraft: usage: --percent must be a number/],
      [['rollout', 'stable', '--app', 'demo', '--percent', '1e1'], /^updraft: usage: --percent must be a number/],
      [['rollout', 'stable', '--app', 'demo', '--percent', ' 5'], /^updraft: usage: --percent must be a number/],
      [['serve', '--data', data, '--port', ''], /^updraft: usage: --port must be an integer in \[0, 65535\]/],
      [['serve', '--data', data, '--port', '1.5'], /^updraft: usage: --port must be an integer/],
      [['serve', '--data', data, '--port', '0', '--upload-limit', '0x10'], /^updraft: usage: --upload-limit must be an integer/],
      [['serve', '--data', data, '--port', '0', '--spread-ms', '2.5'], /^updraft: usage: --spread-ms must be an integer/],
      [['serve', '--data', data, '--port', '0', '--check-in-interval=-1'], /^updraft: usage: --check-in-interval must be an integer in \[1, 2147483\], got "-1"\n$/],
    ];
    for (const [args, pattern] of cases) {
      const res = await cli(args, env());
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toMatch(pattern);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
    }
    const channel = await cli(['status', '--app', 'demo', '--json'], env());
    expect(JSON.parse(channel.stdout).channels[0].percent).toBe(40);
    // A fraction where one makes sense still works.
    const half = await cli(['rollout', 'stable', '--app', 'demo', '--percent', '40.5', '--json'], env());
    expect(JSON.parse(half.stdout).percent).toBe(40.5);
    await cli(['rollout', 'stable', '--app', 'demo', '--percent', '40'], env());
  });

  it('serve refuses numeric flags out of range, naming the flag and the range; resolveOptions refuses the same values to API users', async () => {
    const data = join(dir, 'ranges-data');
    const cases: [string[], string][] = [
      // 0: every open page nudges its worker to check in again at once, as fast as the server answers.
      [['--check-in-interval', '0'], '--check-in-interval must be an integer in [1, 2147483], got "0"'],
      [['--check-in-interval', '0.5'], '--check-in-interval must be an integer in [1, 2147483], got "0.5"'],
      [['--check-in-interval', 'NaN'], '--check-in-interval must be an integer in [1, 2147483], got "NaN"'],
      // Past what a timer honours (2^31 - 1 ms); 1e23 s was a check-in time no worker reaches.
      [['--check-in-interval', '2147484'], '--check-in-interval must be an integer in [1, 2147483], got "2147484"'],
      [['--check-in-interval', '99999999999999999999999'], '--check-in-interval must be an integer in [1, 2147483], got "99999999999999999999999"'],
      // Past the check-in interval: a client whose offset is beyond it gets its plan anew at each
      // check-in, its downloads pushed back again, and never updates.
      [['--spread-ms', '3600001'], '--spread-ms must be an integer in [0, 3600000] (at most the check-in interval, 3600 s, without --capacity, and 12 h, half a plan\'s lifetime), got "3600001"'],
      [['--check-in-interval', '60', '--spread-ms', '60001'], '--spread-ms must be an integer in [0, 60000] (at most the check-in interval, 60 s, without --capacity, and 12 h, half a plan\'s lifetime), got "60001"'],
      // Past half the plan lifetime (24 h): a client's plan could expire before its downloads may start.
      [['--check-in-interval', '86400', '--spread-ms', '43200001'], '--spread-ms must be an integer in [0, 43200000] (at most the check-in interval, 86400 s, without --capacity, and 12 h, half a plan\'s lifetime), got "43200001"'],
      // With --capacity a client keeps its slots across check-ins: only the plan lifetime bounds it.
      [['--capacity', '{"origin":{"bytesPerSecond":1000000}}', '--spread-ms', '43200001'], '--spread-ms must be an integer in [0, 43200000] (at most 12 h, half a plan\'s lifetime), got "43200001"'],
      [['--upload-limit', '0'], '--upload-limit must be an integer in [1, 9007199254740991], got "0"'],
      [['--upload-limit', '9007199254740993'], '--upload-limit must be an integer in [1, 9007199254740991], got "9007199254740993"'],
      [['--plan-ref-min-bytes', '99999999999999999999'], '--plan-ref-min-bytes must be an integer in [0, 9007199254740991], got "99999999999999999999"'],
      [['--port', '65536'], '--port must be an integer in [0, 65535], got "65536"'],
    ];
    for (const [flags, message] of cases) {
      const res = await cli(['serve', '--port', '0', '--data', data, ...flags]);
      expect(res.code, flags.join(' ')).toBe(1);
      expect(res.stderr).toBe(`updraft: usage: ${message}\n`);
    }

    // The ends of the ranges start, and go out as given.
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', data, '-q', '--check-in-interval', '2147483', '--spread-ms', '43200000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const res = await fetch(joinUrl(url, PATHS.checkIn), {
        method: 'POST',
        body: JSON.stringify({ client: 'client-ranges-01', app: 'ranges', channel: 'stable', release: null, caps: { sync: false, periodicSync: false, swIds: true } }),
      });
      expect(await res.json()).toMatchObject({ status: 'current', nextCheckIn: 2147483 });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }

    // API users: a TypeError naming the option and the range, before anything listens.
    const refused: [Parameters<typeof startServer>[0], string][] = [
      [{ checkInInterval: 0 }, 'checkInInterval must be an integer in [1, 2147483], got 0'],
      [{ checkInInterval: Number.NaN }, 'checkInInterval must be an integer in [1, 2147483], got NaN'],
      [{ checkInInterval: 1.5 }, 'checkInInterval must be an integer in [1, 2147483], got 1.5'],
      [{ checkInInterval: 1e23 }, 'checkInInterval must be an integer in [1, 2147483], got 1e+23'],
      [{ spreadMs: -1 }, 'spreadMs must be an integer in [0, 3600000] (at most checkInInterval in ms, without capacity, and half planTtlMs), got -1'],
      [{ spreadMs: 3_600_001 }, 'spreadMs must be an integer in [0, 3600000] (at most checkInInterval in ms, without capacity, and half planTtlMs), got 3600001'],
      [{ checkInInterval: 10, spreadMs: 10_001 }, 'spreadMs must be an integer in [0, 10000] (at most checkInInterval in ms, without capacity, and half planTtlMs), got 10001'],
      [{ capacity: { origin: { bytesPerSecond: 1e6 } }, spreadMs: 43_200_001 }, 'spreadMs must be an integer in [0, 43200000] (at most half planTtlMs), got 43200001'],
      // Half the plan lifetime given, not of the default one.
      [{ spreadMs: 60_001, planTtlMs: 120_000 }, 'spreadMs must be an integer in [0, 60000] (at most checkInInterval in ms, without capacity, and half planTtlMs), got 60001'],
      [{ planTtlMs: 0 }, 'planTtlMs must be an integer in [1, 9007199254740991], got 0'],
      [{ uploadLimit: 0 }, 'uploadLimit must be an integer in [1, 9007199254740991], got 0'],
      [{ planRefMinBytes: -1 }, 'planRefMinBytes must be an integer in [0, 9007199254740991], got -1'],
    ];
    for (const [options, message] of refused) {
      await expect(startServer({ dataDir: data, ...options }), message).rejects.toThrow(new TypeError(message));
    }
    const edge = await startServer({ dataDir: data, checkInInterval: 60, spreadMs: 60_000, planTtlMs: 120_000, uploadLimit: 1, planRefMinBytes: 0 });
    await edge.close();
    const shortest = await startServer({ dataDir: data, checkInInterval: 1, spreadMs: 1000 });
    await shortest.close();
    const budgeted = await startServer({ dataDir: data, checkInInterval: 60, spreadMs: 43_200_000, capacity: { origin: { bytesPerSecond: 1e6 } } });
    await budgeted.close();
  });

  it('serve refuses what would start with updates broken: a --cdn that is not an http(s) URL, --capacity naming no source or setting no limit, extra arguments', async () => {
    const data = join(dir, 'refused-data');
    const cases: [string[], RegExp][] = [
      [['--cdn', 'notaurl'], /^updraft: usage: --cdn must be an absolute URL, got "notaurl"$/],
      [['--cdn', 'https://cdn.test/', '--cdn', 'ftp://cdn.test/'], /^updraft: usage: --cdn must be http\(s\), got "ftp:\/\/cdn\.test\/"$/],
      // A typo used to start with the budget off.
      [['--capacity', '{"orgin":{"bytesPerSecond":5}}'], /^updraft: usage: --capacity: "orgin" is neither "origin" nor a cdn URL \(none given\)$/],
      [['--cdn', 'https://cdn.test', '--capacity', '{"https://other.test/":{"bytesPerSecond":5}}'], /^updraft: usage: --capacity: "https:\/\/other\.test\/" is neither "origin" nor a cdn URL \(https:\/\/cdn\.test\)$/],
      [['--capacity', '{"origin":{}}'], /^updraft: usage: --capacity\.origin sets no limit/],
      [['--capacity', '{"origin":{"bytesPerSecond":0}}'], /^updraft: usage: --capacity\.origin\.bytesPerSecond must be a positive number$/],
      // 1e999 parses to Infinity: a limit that limits nothing.
      [['--capacity', '{"origin":{"bytesPerSecond":1e999}}'], /^updraft: usage: --capacity\.origin\.bytesPerSecond must be a positive number$/],
      [['--capacity', '{"origin":{"bps":5}}'], /^updraft: usage: --capacity\.origin\.bps is not a limit/],
      [['extra'], /^updraft: usage: serve takes no arguments \(got extra\)$/],
    ];
    for (const [flags, pattern] of cases) {
      const res = await cli(['serve', '--data', data, '--port', '0', ...flags]);
      expect(res.code, flags.join(' ')).toBe(1);
      expect(res.stderr.trim()).toMatch(pattern);
    }
    // A CDN key matches its --cdn with or without the trailing slash.
    const running = await startServer({ dataDir: data, cdn: ['https://cdn.test'], capacity: { 'https://cdn.test/': { bytesPerSecond: 5 } } });
    await running.close();
    // API users get the same check from resolveOptions, as a TypeError, and no store left open.
    await expect(startServer({ dataDir: data, capacity: { orgin: { bytesPerSecond: 5 } } })).rejects.toThrow(new TypeError('capacity: "orgin" is neither "origin" nor a cdn URL (none given)'));
    await expect(startServer({ dataDir: data, capacity: { origin: {} } })).rejects.toThrow(TypeError);
    await expect(startServer({ dataDir: data, capacity: { origin: { requestsPerSecond: Infinity } } })).rejects.toThrow(new TypeError('capacity.origin.requestsPerSecond must be a positive number'));
    // One CDN written two ways is one source: which budget holds is no guess to leave to key order.
    await expect(startServer({ dataDir: data, cdn: ['https://cdn.test'], capacity: { 'https://cdn.test': { bytesPerSecond: 5 }, 'https://cdn.test/': { bytesPerSecond: 50 } } }))
      .rejects.toThrow(new TypeError('capacity: "https://cdn.test/" names a source already given a budget (https://cdn.test/)'));
  });

  it('serve refuses flags no server could work with: an --app or --channel no app can have, a --db that is not postgres://, a --csp no header can carry; a --host naming no address is listen', async () => {
    const data = join(dir, 'refused-flags');
    const cases: [string[], string][] = [
      [['--app', 'my app'], 'updraft: usage: --app must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got "my app"'],
      [['--channel', ''], 'updraft: usage: --channel must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got ""'],
      [['--channel', '../beta'], 'updraft: usage: --channel must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got "../beta"'],
      [['--db', 'mysql://u:pw@db/x'], 'updraft: usage: --db must be a postgres:// URL (SQLite lives in --data), got "mysql://u:***@db/x"'],
      [['--csp', "default-src 'self';\r\nscript-src 'self'"], 'updraft: usage: --csp must be printable ASCII on one line (a header value)'],
      [['--host', 'no-such-host.invalid'], 'updraft: listen: --host no-such-host.invalid names no address to listen on (getaddrinfo ENOTFOUND no-such-host.invalid)'],
    ];
    for (const [flags, line] of cases) {
      const res = await cli(['serve', '--port', '0', '--data', data, ...flags]);
      expect(res.code, flags.join(' ')).toBe(1);
      expect(res.stderr).toBe(`${line}\n`);
    }
    // `tokens` reads --db the same way: no SQLite directory named after a URL.
    const tokens = await cli(['tokens', 'create', '--scope', 'read', '--db', 'mysql://db/x'], {});
    expect(tokens.stderr).toBe('updraft: usage: --db must be a postgres:// URL (SQLite lives in --data), got "mysql://db/x"\n');
    expect(existsSync(join(ROOT, 'mysql:'))).toBe(false);
    // API users get the policy check as a TypeError, as for capacity.
    await expect(startServer({ dataDir: data, securityHeaders: { contentSecurityPolicy: "default-src 'self'\n" } })).rejects.toThrow(new TypeError('securityHeaders.contentSecurityPolicy must be a header value: printable ASCII, no line breaks'));
  });

  it('serve on a port another process holds is `listen`, and says what to do: another --port, or 0 for a free one', async () => {
    const other = createServer(() => {});
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const port = (other.address() as AddressInfo).port;
      const res = await cli(['serve', '--port', String(port), '--data', join(dir, 'port-taken')]);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`updraft: listen: listen EADDRINUSE: address already in use 127.0.0.1:${port}: another process listens on port ${port} (an earlier updraft serve?): stop it, or pick another --port (0 for a free one)\n`);
    } finally {
      other.close();
    }
  });

  it('an admin command against a server that accepts and never answers gives up after UPDRAFT_TIMEOUT seconds: unreachable', async () => {
    const silent = createServer(() => {}); // reads the request, never answers
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      const res = await cli(['status'], { UPDRAFT_SERVER: url, UPDRAFT_TOKEN: TOKEN, UPDRAFT_TIMEOUT: '1' });
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`updraft: unreachable: GET v1/admin/status: ${url} gave no answer within 1 s\n`);
      const bad = await cli(['status'], { UPDRAFT_SERVER: url, UPDRAFT_TOKEN: TOKEN, UPDRAFT_TIMEOUT: '0' });
      expect(bad.stderr).toBe('updraft: usage: UPDRAFT_TIMEOUT must be seconds, a positive number, got "0"\n');
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a --server that is not an http(s) URL, or a token no header can carry, is a usage error; one whose answers are not the admin API\'s (a page, other JSON) is http_<status> naming the URL, never internal', async () => {
    for (const [server, message] of [
      ['localhost:8787', '--server must be http(s), got "localhost:8787"'],
      ['127.0.0.1:8787', '--server must be an absolute URL, got "127.0.0.1:8787"'],
    ]) {
      for (const args of [['status', '--server', server!], ['rollout', 'stable', '--percent', '5', '--server', server!]]) {
        const res = await cli(args, { UPDRAFT_TOKEN: TOKEN });
        expect(res.code, args.join(' ')).toBe(1);
        expect(res.stderr).toBe(`updraft: usage: ${message}\n`);
      }
    }
    // A token fetch cannot put in a header: refused as such, not `unreachable`.
    for (const token of ['токен', 'line\nbreak']) {
      const res = await cli(['status', '--server', 'http://127.0.0.1:8787/'], { UPDRAFT_TOKEN: token });
      expect(res.stderr).toBe('updraft: usage: the admin token (--token or UPDRAFT_TOKEN) must be printable ASCII on one line\n');
    }
    const fromEnv = await cli(['status'], { UPDRAFT_TOKEN: TOKEN, UPDRAFT_SERVER: 'localhost:8787' });
    expect(fromEnv.stderr).toBe('updraft: usage: --server (UPDRAFT_SERVER) must be http(s), got "localhost:8787"\n');

    // What a wrong path or port meets: an app whose fallback page answers every path, a JSON API of something else.
    const answers = [['text/html', '<!doctype html><h1>my app</h1>'], ['application/json', '{"ok":true}']] as const;
    const d = await fakeDist({ 'index.html': '<h1>elsewhere</h1>' }, { app: 'elsewhere' });
    await writeDist(join(dir, 'elsewhere'), d);
    for (const [type, body] of answers) {
      const other = createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'Content-Type': type }).end(body);
      });
      other.listen(0, '127.0.0.1');
      await once(other, 'listening');
      try {
        const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/app/`;
        for (const [args, method, path] of [
          [['status'], 'GET', 'v1/admin/status'],
          [['rollout', 'stable', '--percent', '5'], 'PUT', 'v1/admin/channels/stable'],
          [['publish', join(dir, 'elsewhere')], 'POST', 'v1/admin/blobs/missing'],
        ] as const) {
          const res = await cli([...args], { UPDRAFT_SERVER: url, UPDRAFT_TOKEN: TOKEN });
          expect(res.code, `${type} ${args.join(' ')}`).toBe(1);
          expect(res.stderr).toBe(`updraft: http_200: ${method} ${url}${path}: 200 ${type} answer is not the Updraft admin API's: is ${url} the update server's URL?\n`);
        }
      } finally {
        other.close();
      }
    }
  });

  it('a --data serve or tokens cannot use is `io` naming the path, not `listen`', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const dbIsDir = join(dir, 'db-is-dir');
    mkdirSync(join(dbIsDir, 'updraft.db'), { recursive: true });
    const cases: [string, RegExp][] = [
      [file, new RegExp(`^updraft: io: cannot use ${file}: EEXIST: `)],
      [join(file, 'sub'), new RegExp(`^updraft: io: cannot use ${join(file, 'sub')}: ENOTDIR: `)],
      // SQLite's own open fails: its message alone ("unable to open database file") names no file.
      [dbIsDir, new RegExp(`^updraft: io: cannot open ${join(dbIsDir, 'updraft.db')}: unable to open database file$`)],
    ];
    for (const [data, pattern] of cases) {
      for (const args of [['serve', '--port', '0', '--data', data], ['tokens', 'create', '--scope', 'read', '--data', data]]) {
        const res = await cli(args);
        expect(res.code, args.join(' ')).toBe(1);
        expect(res.stderr.trim()).toMatch(pattern);
      }
    }
  });

  it('a dist whose bytes do not match its manifest fails with hash_mismatch and publishes nothing', async () => {
    const d = await fakeDist({ 'index.html': '<h1>tampered</h1>' }, { app: 'tampered' });
    await writeDist(join(dir, 'bad'), d);
    writeFileSync(join(dir, 'bad', 'index.html'), 'changed after the build');
    const res = await cli(['publish', join(dir, 'bad'), '--channel', 'stable'], env());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^updraft: hash_mismatch: /);
    // Naming the file: the server knows the part only by its hash.
    expect(res.stderr.startsWith(`updraft: hash_mismatch: ${join(dir, 'bad', 'index.html')}: body hashes to `)).toBe(true);
    // With progress on, the error line first erases the progress line.
    const shown = await cli(['publish', join(dir, 'bad'), '--progress'], env());
    expect(shown.stderr).toMatch(/^\r\x1b\[Kuploading 0\/1 parts[^\n]*\r\x1b\[Kupdraft: hash_mismatch: [^\n]+\n$/);
    expect(await server.store.getRelease(d.manifest.id)).toBeNull();
  });

  it('publish shows progress on stderr only when asked or on a terminal, --quiet prints nothing, --verbose names each part', async () => {
    const build = async (name: string, version: string) => {
      const d = await fakeDist({ 'index.html': `<h1>${version}</h1>`, 'assets/a.js': `a(${version})`, 'assets/b.css': `b{${version}}` }, { app: 'progress', version, sw: "sw('progress')" });
      await writeDist(join(dir, name), d);
      return d;
    };
    await build('p1', '1.0.0');
    const forced = await cli(['publish', join(dir, 'p1'), '--progress'], env());
    expect(forced.code).toBe(0);
    // One line redrawn in place (\r, erase to end of line), from 0 parts to all, then erased.
    expect(forced.stderr).toMatch(/^\r\x1b\[Kuploading 0\/4 parts {2}0 B \/ \d+ B/);
    expect(forced.stderr).toMatch(/\r\x1b\[Kuploading 4\/4 parts {2}\d+ B \/ \d+ B {2}[\d.]+ (B|kB|MB)\/s/);
    expect(forced.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(forced.stderr).not.toContain('\n');
    expect(forced.stdout).toMatch(/^published [0-9a-f]{16} \(progress 1\.0\.0 #1\): uploaded 4 of 4 parts, \d+ B in \d+\.\d s\n$/);

    await build('p2', '2.0.0');
    const quiet = await cli(['publish', join(dir, 'p2'), '--channel', 'beta', '--progress', '--quiet'], env());
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });

    const p3 = await build('p3', '3.0.0');
    const verbose = await cli(['publish', join(dir, 'p3'), '--verbose'], env());
    expect(verbose.code).toBe(0);
    // The sw is unchanged across these builds, so only the three assets go up.
    expect(verbose.stderr.split('\n').slice(1).sort()).toEqual(['', '  uploaded assets/a.js', '  uploaded assets/b.css', '  uploaded index.html']);
    expect(verbose.stderr).toMatch(new RegExp(`^${server.url}: 3 part\\(s\\) to upload, \\d+ B\n`));
    expect(verbose.stdout).toContain(`published ${p3.manifest.id} (progress 3.0.0 #3): uploaded 3 of 4 parts`);
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('on a terminal (a pty from `script`), publish draws progress without being asked', async () => {
    const d = await fakeDist({ 'index.html': '<h1>tty</h1>', 'assets/tty.js': 'tty()' }, { app: 'tty' });
    await writeDist(join(dir, 'tty'), d);
    const command = [process.execPath, '--import', 'tsx', 'server/cli.ts', 'publish', join(dir, 'tty')].join(' ');
    const res = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, ...env() } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    expect(res).toContain('uploading 2/2 parts');
    expect(res).toContain(`published ${d.manifest.id} (tty 1.0.0 #1)`);
  });

  it('status prints a table per app and channel: clients per release, rollout and failure reasons', async () => {
    const v1 = await fakeDist({ 'index.html': 'shop v1' }, { app: 'shop', version: '1.0.0' });
    const v2 = await fakeDist({ 'index.html': 'shop v2' }, { app: 'shop', version: '2.0.0' });
    const blog = await fakeDist({ 'index.html': 'blog' }, { app: 'blog', version: '0.1.0' });
    for (const [name, d] of [['shop1', v1], ['shop2', v2], ['blog', blog]] as const) await writeDist(join(dir, name), d);
    expect((await cli(['publish', join(dir, 'shop1'), '--channel', 'stable'], env())).code).toBe(0);
    expect((await cli(['publish', join(dir, 'shop2'), '--channel', 'stable', '--percent', '25'], env())).code).toBe(0);
    expect((await cli(['publish', join(dir, 'blog'), '--channel', 'stable'], env())).code).toBe(0);

    const checkIn = (client: string, app: string, release: string | null) =>
      fetch(joinUrl(server.url, PATHS.checkIn), {
        method: 'POST',
        body: JSON.stringify({ client, app, channel: 'stable', release, caps: { sync: true, periodicSync: false, swIds: true } }),
      });
    for (const [client, release] of [['shop-a-01', v1.manifest.id], ['shop-b-01', v1.manifest.id], ['shop-c-01', v1.manifest.id], ['shop-d-01', v2.manifest.id], ['shop-e-01', null]] as const) {
      expect((await checkIn(client, 'shop', release)).ok).toBe(true);
    }
    expect((await checkIn('blog-a-01', 'blog', blog.manifest.id)).ok).toBe(true);
    const report = (client: string, event: string, code?: string) => ({ client, app: 'shop', release: v2.manifest.id, event, ...(code ? { code } : {}), at: Date.UTC(2030, 0, 1) });
    const reports = await fetch(joinUrl(server.url, PATHS.reports), {
      method: 'POST',
      body: JSON.stringify({ reports: [report('shop-d-01', 'downloaded'), report('shop-d-01', 'activated'), report('shop-b-01', 'failed', 'content'), report('shop-c-01', 'failed', 'content'), report('shop-a-01', 'failed', 'quota')] }),
    });
    expect(reports.status).toBe(202);

    const res = await cli(['status'], env());
    expect(res.code).toBe(0);
    const shop = res.stdout.slice(res.stdout.indexOf('shop/stable'));
    expect(shop).toMatch(new RegExp(`^shop/stable  →  ${v2.manifest.id} \\(2\\.0\\.0 #2\\)  25%  next-navigation\n  the other 75% stay on ${v1.manifest.id} \\(1\\.0\\.0 #1\\)\n`));
    expect(shop).toMatch(/^ {2}RELEASE +VERSION +ROLE +CLIENTS +SHARE +DOWNLOADED +ACTIVATED +FAILED$/m);
    expect(shop).toMatch(new RegExp(`^  ${v2.manifest.id} +2\\.0\\.0 #2 +current +1 +20% +1 +1 +3$`, 'm'));
    expect(shop).toMatch(new RegExp(`^  ${v1.manifest.id} +1\\.0\\.0 #1 +previous +3 +60% +0 +0 +0$`, 'm'));
    expect(shop).toMatch(/^ {2}\(none yet\) +installing +1 +20%$/m);
    expect(shop).toMatch(/^ {2}5 clients checked in$/m);
    expect(shop).toContain(`  failures on ${v2.manifest.id}: content ×2, quota ×1`);
    // Both apps have a "stable" channel: each block counts only its own app's clients.
    const blogBlock = res.stdout.slice(res.stdout.indexOf('blog/stable')).split('\n\n')[0]!;
    expect(blogBlock).toMatch(/^ {2}1 client checked in$/m);

    const verbose = await cli(['status', '--app', 'shop', '--verbose'], env());
    expect(verbose.stdout).not.toContain('blog');
    expect(verbose.stdout).toMatch(new RegExp(`^releases \\(2\\):\n  RELEASE +APP +VERSION +BUILT +PARTS +SIZE\n  ${v1.manifest.id} +shop +1\\.0\\.0 #1 `, 'm'));
    expect(verbose.stdout).toMatch(new RegExp(`^  2030-01-01T00:00:00\\.000Z +shop-a-01 +${v2.manifest.id} +failed +quota$`, 'm'));
  });

  it('rollout --pause/--resume/--minimum change the channel; status shows the pause, its reason and the minimum', async () => {
    const v1 = await fakeDist({ 'index.html': 'p v1' }, { app: 'pz', version: '1.0.0' });
    const v2 = await fakeDist({ 'index.html': 'p v2' }, { app: 'pz', version: '2.0.0' });
    for (const [name, d] of [['pz1', v1], ['pz2', v2]] as const) await writeDist(join(dir, name), d);
    expect((await cli(['publish', join(dir, 'pz1'), '--channel', 'stable'], env())).code).toBe(0);
    expect((await cli(['publish', join(dir, 'pz2'), '--channel', 'stable'], env())).code).toBe(0);
    const [a, b] = [v1.manifest.id, v2.manifest.id];

    const paused = await cli(['rollout', 'stable', '--app', 'pz', '--pause', '--reason', 'crash on login', '--minimum', a], env());
    expect(paused.stdout.trim()).toBe(`pz/stable: ${b} at 100% (previous ${a}, activation next-navigation), minimum ${a}, PAUSED: crash on login`);
    const status = await cli(['status', '--app', 'pz'], env());
    expect(status.stdout).toContain(`pz/stable  →  ${b} (2.0.0 #2)  100%  next-navigation  PAUSED\n  paused: crash on login; no client is offered ${b}, new clients get ${a} (1.0.0 #1)\n  minimum ${a} (1.0.0 #1): clients on an older release update immediately`);
    const json = JSON.parse((await cli(['status', '--app', 'pz', '--json'], env())).stdout);
    expect(json.channels[0]).toMatchObject({ paused: true, pausedReason: 'crash on login', minimum: a });

    const resumed = await cli(['rollout', 'stable', '--app', 'pz', '--resume', '--minimum', 'none', '--json'], env());
    expect(JSON.parse(resumed.stdout)).toMatchObject({ release: b, paused: false, pausedReason: null, minimum: null });
    const back = await cli(['rollout', 'stable', '--app', 'pz', '--release', a], env());
    expect(back.stdout.trim()).toBe(`pz/stable: rolled back from ${b} (2.0.0 #2) to ${a} (1.0.0 #1) at 100% (activation next-navigation)`);

    // A minimum the channel does not offer: one line saying why and what to do, nothing changed.
    const ahead = await cli(['rollout', 'stable', '--app', 'pz', '--minimum', b], env());
    expect(ahead.code).toBe(1);
    expect(ahead.stderr).toMatch(new RegExp(`^updraft: minimum_ahead: minimum ${b} \\(#2\\) is newer than ${a} \\(#1\\), the release channel stable of app pz offers: .*\n$`));
    // Publishing the older build again to the channel, once it is on the newer one: published, channel left.
    expect((await cli(['publish', join(dir, 'pz2'), '--channel', 'stable'], env())).code).toBe(0);
    const older = await cli(['publish', join(dir, 'pz1'), '--channel', 'stable'], env());
    expect(older.code).toBe(0);
    expect(older.stdout).toContain(`channel stable not moved: channel stable targets ${b} (#2), newer than ${a} (#1): a publish moves a channel only forward`);
    expect(older.stdout).toContain(`pz/stable: ${b} at 100% (previous ${a}, activation next-navigation)`);
  });

  it('rollout to an older release says it rolled back, from which release to which, as status names them; a move forward or no move does not', async () => {
    const ds = await Promise.all(['1.0.0', '2.0.0', '3.0.0'].map((version) => fakeDist({ 'index.html': `rb ${version}` }, { app: 'rb', version })));
    for (const [i, d] of ds.entries()) {
      await writeDist(join(dir, `rb${i}`), d);
      expect((await cli(['publish', join(dir, `rb${i}`), '--channel', 'stable'], env())).code).toBe(0);
    }
    const [v1, v2, v3] = ds.map((d) => d.manifest.id);

    // A partial roll back, as JSON: the answer names both releases.
    const partial = await cli(['rollout', 'stable', '--app', 'rb', '--release', v1!, '--percent', '50', '--json'], env());
    expect(JSON.parse(partial.stdout)).toMatchObject({
      release: v1, previous: v3, percent: 50,
      rolledBack: { from: { id: v3, version: '3.0.0', seq: 3 }, to: { id: v1, version: '1.0.0', seq: 1 } },
    });
    const status = await cli(['status', '--app', 'rb'], env());
    expect(status.stdout).toContain(`the other 50% stay where they are (rolled back from ${v3} (3.0.0 #3): offered to nobody)`);
    // The same release again moves nothing: the plain state, which names the release rolled back from as previous.
    const again = await cli(['rollout', 'stable', '--app', 'rb', '--release', v1!, '--pause', '--reason', 'checking'], env());
    expect(again.stdout.trim()).toBe(`rb/stable: ${v1} at 50% (previous ${v3}, activation next-navigation), PAUSED: checking`);
    expect(JSON.parse((await cli(['rollout', 'stable', '--app', 'rb', '--resume', '--json'], env())).stdout)).not.toHaveProperty('rolledBack');
    // Forward is not a roll back, whatever came before.
    const forward = await cli(['rollout', 'stable', '--app', 'rb', '--release', v2!, '--activation', 'prompt'], env());
    expect(forward.stdout.trim()).toBe(`rb/stable: ${v2} at 50% (previous ${v1}, activation prompt)`);
    // Back below a minimum, giving the new minimum: both said.
    expect((await cli(['rollout', 'stable', '--app', 'rb', '--minimum', v2!, '-q'], env())).code).toBe(0);
    const below = await cli(['rollout', 'stable', '--app', 'rb', '--release', v1!, '--minimum', v1!], env());
    expect(below.stdout.trim()).toBe(`rb/stable: rolled back from ${v2} (2.0.0 #2) to ${v1} (1.0.0 #1) at 100% (activation prompt), minimum ${v1}`);
    // At 100% no rollout line names the release rolled back from: status says it all the same,
    // as rollout did, in its text and JSON, and the table does not call it plain `previous`.
    const after = await cli(['status', '--app', 'rb'], env());
    expect(after.stdout).toContain(`rb/stable  →  ${v1} (1.0.0 #1)  100%  prompt\n  rolled back from ${v2} (2.0.0 #2) to ${v1} (1.0.0 #1)\n`);
    expect(after.stdout).toMatch(new RegExp(`^  ${v2} +2\\.0\\.0 #2 +rolled back from +0 +- `, 'm'));
    const json = JSON.parse((await cli(['status', '--app', 'rb', '--json'], env())).stdout);
    expect(json.channels[0]).toMatchObject({ release: v1, previous: v2, rolledBack: { from: { id: v2, version: '2.0.0', seq: 2 }, to: { id: v1, version: '1.0.0', seq: 1 } } });
    // Forward again: no longer rolled back, anywhere.
    expect((await cli(['rollout', 'stable', '--app', 'rb', '--release', v3!, '-q'], env())).code).toBe(0);
    expect((await cli(['status', '--app', 'rb'], env())).stdout).not.toContain('rolled back');
    expect(JSON.parse((await cli(['status', '--app', 'rb', '--json'], env())).stdout).channels[0]).not.toHaveProperty('rolledBack');
  });

  it('status and the dashboard give one failure rate for a target, the automatic pause\'s: superseded and withdrawn plans are not failures of the release', async () => {
    const d = await fakeDist({ 'index.html': 'fr' }, { app: 'fr', version: '1.0.0' });
    await writeDist(join(dir, 'fr'), d);
    expect((await cli(['publish', join(dir, 'fr'), '--channel', 'stable'], env())).code).toBe(0);
    const id = d.manifest.id;
    const report = (client: string, event: string, code?: string) => ({ client, app: 'fr', release: id, event, ...(code ? { code } : {}), at: Date.now() });
    const sent = await fetch(joinUrl(server.url, PATHS.reports), {
      method: 'POST',
      body: JSON.stringify({ reports: [
        report('fr-a-0001', 'downloaded'), report('fr-a-0001', 'activated'),
        report('fr-b-0001', 'failed', 'content'), report('fr-b-0001', 'failed', 'content'),
        // A newer plan and a withdrawal: the rollout's doing, not the release's.
        report('fr-c-0001', 'failed', 'superseded'), report('fr-d-0001', 'failed', 'withdrawn'), report('fr-e-0001', 'failed', 'superseded'),
      ] }),
    });
    expect(sent.status).toBe(202);
    // Distinct clients: a and b reported on the release, b failed: 50%. The events say 5 failed of 6.
    const json = JSON.parse((await cli(['status', '--app', 'fr', '--json'], env())).stdout);
    expect(json.channels[0].health).toMatchObject({ clients: 2, failed: 1 });
    const text = (await cli(['status', '--app', 'fr'], env())).stdout;
    expect(text).toMatch(new RegExp(`^  failure rate of ${id}: 50%, 1 of 2 clients failed since \\S+ \\(as the automatic pause counts: distinct clients; expired plans, full disks, newer plans and withdrawals are not failures of the release\\)$`, 'm'));
    expect(text).toContain(`  failures on ${id}: content ×2, superseded ×2, withdrawn ×1`);
    const page = await (await fetch(joinUrl(server.url, 'v1/admin/dashboard'), { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    const card = page.slice(page.indexOf('data-app="fr"'));
    expect(card).toContain('data-failure-rate="0.5000">50%</span>');
    expect(card).toContain('data-failure-rate-clients="2" data-failure-rate-failed="1"');
    // The raw event counts stay, below the headline, with every reason.
    expect(card).toContain('<span data-failures="5">5</span> failed or boot-failed of <span data-attempts="6">6</span> downloaded or failed');
    expect(card).toContain('data-reason="superseded" data-count="2"');
  });

  it('status --quiet prints nothing (its exit status checks server and token); --app naming no published app is unknown_app listing the apps; a channel several apps share asks for --app', async () => {
    const a = await fakeDist({ 'index.html': 'qa' }, { app: 'qa', version: '1.0.0' });
    const b = await fakeDist({ 'index.html': 'qb' }, { app: 'qb', version: '1.0.0' });
    for (const [name, d] of [['qa', a], ['qb', b]] as const) await writeDist(join(dir, name), d);
    for (const name of ['qa', 'qb']) expect((await cli(['publish', join(dir, name), '--channel', 'shared-q'], env())).code).toBe(0);

    expect(await cli(['status', '--quiet'], env())).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await cli(['status', '-q', '--app', 'qa', '--verbose'], env())).toEqual({ code: 0, stdout: '', stderr: '' });
    const badToken = await cli(['status', '-q'], { ...env(), UPDRAFT_TOKEN: 'wrong' });
    expect([badToken.code, badToken.stdout, badToken.stderr]).toEqual([1, '', 'updraft: unauthorized: unknown or revoked bearer token\n']);

    const typo = await cli(['status', '--app', 'qaa'], env());
    expect(typo.code).toBe(1);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toMatch(new RegExp(`^updraft: unknown_app: nothing published for app qaa on ${server.url} \\(its apps: [^)]*\\bqa, qb\\b[^)]*\\)\n$`));
    // Scripts reading the raw answer keep it: an empty one for an app with nothing published.
    const json = await cli(['status', '--app', 'qaa', '--json'], env());
    expect([json.code, JSON.parse(json.stdout).releases]).toEqual([0, []]);

    const both = await cli(['rollout', 'shared-q', '--percent', '50'], env());
    expect([both.code, both.stderr]).toEqual([1, "updraft: bad_request: channel shared-q exists for several apps (qa, qb): pass ?app= (the CLI's --app)\n"]);
    const one = await cli(['rollout', 'shared-q', '--percent', '50', '--app', 'qb'], env());
    expect(one.stdout.trim()).toBe(`qb/shared-q: ${b.manifest.id} at 50% (previous none, activation next-navigation)`);
  });

  it('publish --percent or --activation without --channel is a usage error, not silently ignored', async () => {
    for (const flags of [['--percent', '10'], ['--activation', 'prompt']]) {
      const res = await cli(['publish', join(dir, 'dist'), ...flags], env());
      expect(res.code).toBe(1);
      expect(res.stderr).toBe('updraft: usage: --percent and --activation need --channel\n');
    }
  });

  it('publish of a folder that does not exist says so (not yet built?), and of a folder without the manifest that it is not the plugin\'s build', async () => {
    const missing = join(dir, 'never-built');
    const none = await cli(['publish', missing, '--channel', 'stable'], env());
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`updraft: io: ${missing} does not exist: build the app first (vite build), or name its outDir\n`);
    const plain = join(dir, 'plain-build');
    mkdirSync(plain, { recursive: true });
    writeFileSync(join(plain, 'index.html'), '<h1>no plugin</h1>');
    const other = await cli(['publish', plain, '--channel', 'stable'], env());
    expect(other.stderr).toBe(`updraft: io: cannot read ${join(plain, 'updraft-release.json')}: ${plain} is not a build made with the updraft() Vite plugin\n`);
  });

  it('publish --channel with a name no channel can have is a usage error before anything is uploaded or published', async () => {
    const d = await fakeDist({ 'index.html': '<h1>bad channel</h1>' }, { app: 'bad-channel' });
    await writeDist(join(dir, 'bad-channel'), d);
    const res = await cli(['publish', join(dir, 'bad-channel'), '--channel', 'my beta'], env());
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('updraft: usage: channel must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got "my beta"\n');
    expect(await server.store.getRelease(d.manifest.id)).toBeNull();
    expect(await server.store.missingBlobs(d.manifest.assets.map((a) => a.sha256))).toHaveLength(1);
  });

  it('serve --public-url names that URL as the origin source in plans (a TLS proxy in front)', async () => {
    const bad = await cli(['serve', '--public-url', 'not a url', '--port', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^updraft: usage: --public-url must be an absolute URL/);

    const data = join(dir, 'public-url-data');
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', data, '--token', TOKEN, '--public-url', 'https://updates.example.com/u/'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let serveErr = '';
    child.stderr!.on('data', (d: Buffer) => (serveErr += d.toString()));
    try {
      const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      // No --signing-key: serve says so, once.
      await expect.poll(() => serveErr).toMatch(/^updraft: warning: plans are not signed/);
      const d = await fakeDist({ 'index.html': '<h1>proxied</h1>', 'assets/p.js': 'p()' }, { app: 'proxied' });
      await writeDist(join(dir, 'proxied'), d);
      expect((await cli(['publish', join(dir, 'proxied'), '--channel', 'stable', '--server', url, '--token', TOKEN])).code).toBe(0);
      const res = await fetch(joinUrl(url, PATHS.checkIn), {
        method: 'POST',
        body: JSON.stringify({ client: 'client-proxied-01', app: 'proxied', channel: 'stable', release: null, caps: { sync: false, periodicSync: false, swIds: true } }),
      });
      const body = (await res.json()) as CheckInResponse;
      const task = body.status === 'update' ? body.plan.tasks.find((t) => t.kind === 'fetch') : undefined;
      expect(task && 'sources' in task && task.sources.at(-1)).toMatch(/^https:\/\/updates\.example\.com\/u\/v1\/blobs\/[0-9a-f]{64}$/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('serve prints a URL to open: a loopback one when --host is every interface (0.0.0.0, ::, 0), saying so on stderr; IPv6 literals in brackets, also given in brackets', async () => {
    const data = join(dir, 'hosts-data');
    const cases: [string[], RegExp, string | null][] = [
      [['--host', '0.0.0.0'], /^http:\/\/127\.0\.0\.1:(\d+)\/$/, '0.0.0.0'],
      [['--host', '0'], /^http:\/\/127\.0\.0\.1:(\d+)\/$/, '0'],
      [['--host', '::'], /^http:\/\/\[::1\]:(\d+)\/$/, '::'],
      [['--host', '::1'], /^http:\/\/\[::1\]:(\d+)\/$/, null],
      [['--host', '0:0:0:0:0:0:0:1'], /^http:\/\/\[::1\]:(\d+)\/$/, null],
      // In brackets, as in a URL: the address inside them.
      [['--host', '[::1]'], /^http:\/\/\[::1\]:(\d+)\/$/, null],
      [['--host', '[::]'], /^http:\/\/\[::1\]:(\d+)\/$/, '[::]'],
      [['--host', 'localhost'], /^http:\/\/localhost:(\d+)\/$/, null],
      [['--host', '0.0.0.0', '--quiet'], /^http:\/\/127\.0\.0\.1:(\d+)\/$/, null],
    ];
    for (const [flags, pattern, everywhere] of cases) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', data, '--token', TOKEN, ...flags], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      try {
        await expect.poll(() => out, { timeout: 20_000 }).toContain('\n');
        const url = out.trim();
        const port = pattern.exec(url)?.[1];
        expect(port, `${flags.join(' ')}: ${url}`).toBeDefined();
        // A URL that works: the admin API answers there.
        const res = await fetch(joinUrl(url, PATHS.adminStatus), { headers: { Authorization: `Bearer ${TOKEN}` } });
        expect(res.status, flags.join(' ')).toBe(200);
        const note = `updraft: note: listening on every interface (--host ${everywhere}), port ${port}: other machines reach it at this machine's address; ${url} is for this one\n`;
        if (everywhere) await expect.poll(() => err).toContain(note);
        else {
          // Its last line at start (with --quiet, nothing) is written by now: no note among them.
          if (!flags.includes('--quiet')) await expect.poll(() => err).toMatch(/not signed/);
          expect(err, flags.join(' ')).not.toContain('every interface');
        }
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  });

  it('keys generate writes a private key only the owner reads and a public key; serve --signing-key signs every plan with it', async () => {
    const base = join(dir, 'keys', 'signing');
    mkdirSync(join(dir, 'keys'));
    // The plain output says what to do next, and that a key in use is replaced by a rotation, not at once.
    const plain = await cli(['keys', 'generate', '--out', join(dir, 'keys', 'plain')]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('updraft serve --signing-key plain.key\n');
    expect(plain.stdout).toContain('SECURITY.md, "Key rotation"');
    const gen = await cli(['keys', 'generate', '--out', base, '--json']);
    expect(gen.code).toBe(0);
    const k = JSON.parse(gen.stdout) as { publicKey: string; keyId: string; privateKeyFile: string; publicKeyFile: string };
    expect(statSync(`${base}.key`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${base}.pub`, 'utf8').trim()).toBe(k.publicKey);
    expect(k.publicKey).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/);
    // A second generate must not destroy the key clients trust.
    const again = await cli(['keys', 'generate', '--out', base]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^updraft: exists: /);
    expect(readFileSync(`${base}.pub`, 'utf8').trim()).toBe(k.publicKey);

    const notAKey = await cli(['serve', '--port', '0', '--data', join(dir, 'bad-key-data'), '--signing-key', `${base}.pub`]);
    expect(notAKey.code).toBe(1);
    expect(notAKey.stderr).toMatch(/^updraft: usage: .*signing\.pub: not a PEM private key/);
    // A key file that is not there is the disk's failure, as a missing --token-file is.
    const missing = await cli(['serve', '--port', '0', '--data', join(dir, 'bad-key-data'), '--signing-key', `${base}.nokey`]);
    expect([missing.code, missing.stdout]).toEqual([1, '']);
    expect(missing.stderr).toMatch(/^updraft: io: cannot read signing key .*signing\.nokey: ENOENT/);

    const data = join(dir, 'signed-data');
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--data', data, '--token', TOKEN], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UPDRAFT_SIGNING_KEY: `${base}.key` },
    });
    let serveErr = '';
    child.stderr!.on('data', (d: Buffer) => (serveErr += d.toString()));
    try {
      const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      expect(serveErr).not.toContain('not signed');
      const d = await fakeDist({ 'index.html': '<h1>signed</h1>', 'assets/s.js': 's()' }, { app: 'signed' });
      await writeDist(join(dir, 'signed'), d);
      expect((await cli(['publish', join(dir, 'signed'), '--channel', 'stable', '--server', url, '--token', TOKEN])).code).toBe(0);
      const res = await fetch(joinUrl(url, PATHS.checkIn), {
        method: 'POST',
        body: JSON.stringify({ client: 'client-signed-001', app: 'signed', channel: 'stable', release: null, caps: { sync: false, periodicSync: false, swIds: true } }),
      });
      const body = (await res.json()) as CheckInResponse;
      if (body.status !== 'update') throw new Error('expected a plan');
      expect(body.plan.signatures).toEqual([{ keyId: k.keyId, sig: expect.any(String) }]);
      const raw = decodePublicKey(k.publicKey)!;
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(raw) }, format: 'jwk' });
      expect(verify(null, Buffer.from(planStatement(expandPlan(body.plan)!)), publicKey, Buffer.from(fromBase64url(body.plan.signatures![0]!.sig)!))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('keys generate: --force leaves the new key 0600, a .pub that cannot be written leaves no .key behind, a missing directory is io', async () => {
    const keys = join(dir, 'keys-edge');
    mkdirSync(keys);
    const base = join(keys, 'k');
    expect((await cli(['keys', 'generate', '--out', base, '-q'])).code).toBe(0);
    chmodSync(`${base}.key`, 0o644); // say, copied around with a loose mode
    const forced = await cli(['keys', 'generate', '--out', base, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(statSync(`${base}.key`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${base}.pub`, 'utf8').trim()).toBe((JSON.parse(forced.stdout) as { publicKey: string }).publicKey);

    // <out>.pub is a directory: nothing is written, with or without --force.
    const blocked = join(keys, 'blocked');
    mkdirSync(`${blocked}.pub`);
    const res = await cli(['keys', 'generate', '--out', blocked]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`^updraft: io: cannot write ${blocked}\\.pub: EISDIR: `));
    expect(existsSync(`${blocked}.key`)).toBe(false);
    writeFileSync(`${blocked}.key`, 'old key');
    expect((await cli(['keys', 'generate', '--out', blocked, '--force'])).stderr).toMatch(/^updraft: io: cannot write .*blocked\.pub: EISDIR: /);
    expect(readFileSync(`${blocked}.key`, 'utf8')).toBe('old key');
    expect(readdirSync(keys).sort()).toEqual(['blocked.key', 'blocked.pub', 'k.key', 'k.pub']); // no temp files left

    const nowhere = await cli(['keys', 'generate', '--out', join(keys, 'no', 'such', 'k')]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(new RegExp(`^updraft: io: cannot write ${join(keys, 'no', 'such', 'k')}\\.pub: ENOENT: `));
  });

  it('keys generate --out naming no file (empty, or a directory with a trailing slash) is a usage error, and writes no hidden .key', async () => {
    const keys = join(dir, 'keys-out');
    mkdirSync(keys);
    for (const out of ['', `${keys}/`]) {
      const res = await cli(['keys', 'generate', '--out', out]);
      expect(res.code, JSON.stringify(out)).toBe(1);
      expect(res.stderr).toBe(`updraft: usage: --out is the keys' file name without .key/.pub (e.g. keys/updraft-signing), got ${JSON.stringify(out)}\n`);
    }
    expect(readdirSync(keys)).toEqual([]);
    expect(existsSync(join(ROOT, '.key'))).toBe(false);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `updraft ${version}\n`, stderr: '' });
    const extra = await cli(['--version', 'x']);
    expect([extra.code, extra.stderr]).toEqual([1, 'updraft: usage: unknown command --version (try --help)\n']);
  });

  it('--help prints usage', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('updraft publish <dist>');
    expect(res.stdout).toContain('updraft keys generate [--out updraft-signing] [--force] [--json]');
    // README's CLI section opens with the same usage, wrapped its own way.
    const words = (text: string) => text.split(/\s+/).filter(Boolean).join(' ');
    const between = (text: string, start: string, end: string) => {
      const from = text.indexOf(start);
      expect(from, start).toBeGreaterThanOrEqual(0);
      return text.slice(from + start.length, text.indexOf(end, from + start.length));
    };
    const usage = between(res.stdout, 'Usage:\n', '\n\n');
    const block = between(readFileSync(join(ROOT, 'README.md'), 'utf8'), '### CLI `updraft`\n\n```\n', '```');
    expect(usage).toContain('updraft tokens  revoke');
    expect(words(block)).toBe(words(usage));
    // Anywhere on the line, for every command: the same text.
    for (const command of ['serve', 'keys generate', 'publish', 'rollout', 'status', 'tokens create']) {
      expect(await cli([...command.split(' '), '-h']), command).toEqual({ code: 0, stdout: res.stdout, stderr: '' });
    }
  });
});
