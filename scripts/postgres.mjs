#!/usr/bin/env node
// A throwaway PostgreSQL for the tests: `startPostgres()` installs Debian's `postgresql` when no
// server binaries exist (apt-get, as root or with `sudo -n`), runs `initdb` in a temp dir (as the
// `postgres` user when we are root: initdb refuses root), starts it with `pg_ctl` on 127.0.0.1 on
// a free port, creates a database and returns its URL and a `stop()` that removes everything.
//
//   node scripts/postgres.mjs          starts one, prints `export UPDRAFT_PG_URL=...`, stops on Ctrl-C
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const USER = 'updraft';
const DATABASE = 'updraft';

/** The newest `/usr/lib/postgresql/<major>/bin` with initdb, else wherever initdb is on PATH. */
function findBinDir() {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of majors) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? join(which.stdout.trim(), '..') : null;
}

function installPostgres(log) {
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!hasApt) throw new Error('no PostgreSQL server binaries (initdb) and no apt-get to install them');
  const isRoot = process.getuid?.() === 0;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => {
    const [cmd, ...rest] = isRoot ? ['apt-get', ...args] : ['sudo', '-n', 'apt-get', ...args];
    return spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'], env }).status;
  };
  log('postgres: no server binaries; installing Debian\'s postgresql');
  if (apt('install', '-y', '--no-install-recommends', 'postgresql') !== 0) {
    apt('update');
    if (apt('install', '-y', '--no-install-recommends', 'postgresql') !== 0) throw new Error('apt-get install postgresql failed');
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ url: string, dir: string, stop: () => void }>}
 */
export async function startPostgres({ log = (line) => console.log(line) } = {}) {
  let bin = findBinDir();
  if (!bin) {
    installPostgres(log);
    bin = findBinDir();
    if (!bin) throw new Error('postgresql installed but initdb not found');
  }
  // initdb and postgres refuse to run as root: run them as the package's `postgres` user.
  const asRoot = process.getuid?.() === 0;
  const pgUid = asRoot ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : null;
  const pgGid = asRoot ? Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()) : null;
  if (asRoot && !Number.isInteger(pgUid)) throw new Error('running as root and there is no `postgres` user to run the server as');
  // The `postgres` user must reach the cluster dir: as root, a TMPDIR under /root would not do.
  const base = asRoot ? '/tmp' : tmpdir();
  const as = (cmd, args) => {
    const [c, a] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    const res = spawnSync(c, a, { encoding: 'utf8', cwd: base });
    if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status ?? res.error?.message}):\n${res.stdout ?? ''}${res.stderr ?? ''}`);
    return res;
  };

  const dir = mkdtempSync(join(base, 'updraft-pg-'));
  if (asRoot) chownSync(dir, pgUid, pgGid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pgCtl = join(bin, 'pg_ctl');
  let started = false;
  const stop = () => {
    if (started) spawnSync(asRoot ? 'runuser' : pgCtl, asRoot ? ['-u', 'postgres', '--', pgCtl, '-D', data, '-m', 'immediate', '-w', 'stop'] : ['-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', cwd: base });
    started = false;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Trust auth is fine: the server listens on 127.0.0.1 and a socket in our own temp dir only, and lives for one test run.
    as(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // Another process can take the free port between our check and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const opts = [
        `-p ${port}`, "-c listen_addresses='127.0.0.1'", `-c unix_socket_directories='${dir}'`,
        // A throwaway cluster: durability buys nothing, speed does.
        '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=200',
      ].join(' ');
      try {
        as(pgCtl, ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
        started = true;
        as(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', USER, DATABASE]);
        const url = `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`;
        return { url, dir, stop };
      } catch (err) {
        if (started || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    const serverLog = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
    stop();
    throw new Error(`${err.message}${serverLog ? `\nserver log:\n${serverLog}` : ''}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const pg = await startPostgres({ log: (line) => console.error(line) });
  console.log(`export UPDRAFT_PG_URL=${pg.url}`);
  console.error('postgres: running; Ctrl-C stops it and deletes its data');
  const quit = () => {
    pg.stop();
    process.exit(0);
  };
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  setInterval(() => {}, 1 << 30);
}
