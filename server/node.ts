import { getRequestListener } from '@hono/node-server';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { checkInLaneOf, createUpdateServer, deltaQueueOf } from './app.js';
import type { DeltaQueue } from './delta-queue.js';
import { BlobStore } from './blob-store.js';
import { integerIn, type UpdateServerOptions } from './options.js';
import { openStore } from './open-store.js';
import { PostgresSlotLedger } from './postgres-slot-ledger.js';
import { PostgresStore } from './postgres-store.js';
import type { Store } from './store.js';
import { writeBehind } from './write-behind-store.js';
import { listenHost, listenUrl } from './listen-url.js';

export type StartServerOptions = Partial<UpdateServerOptions> & {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Where `updraft.db` and `blobs/` live when `store`/`blobs` are not given. @default '.updraft' */
  dataDir?: string;
  /**
   * The store when `store` is not given: a `postgres://` URL (several servers can share it, with
   * one shared `dataDir` for blobs), or a directory for SQLite. @default dataDir
   */
  db?: string;
  /** A pre-composed app (e.g. the update server mounted under a prefix) to serve instead. */
  app?: Hono;
  /**
   * The update server (from `createUpdateServer`) mounted at the root of a pre-composed `app`:
   * its check-ins are then answered by a Node handler ahead of `app` (server/check-in-lane.ts,
   * 2.3× the check-ins a second), so `app`'s own middleware does not see them. Without it, a
   * given `app` answers every request itself. @default the app startServer builds, when `app` is not given
   */
  checkInLane?: Hono;
  /**
   * Node's `requestTimeout`, ms: the whole request, body included, or 408. 0 turns it off. An
   * integer in [0, 2147483647], else a `TypeError`.
   * @default 0 when startServer builds the app: each of its routes that reads a body has a deadline
   * (`bodyTimeoutMs`) or a minimum rate (`uploadMinRate`), and a total one cut off large part
   * uploads on a slow uplink (512 MiB at under 1.8 MB/s); Node's 300_000 for a given `app`, whose
   * own routes may have neither
   */
  requestTimeoutMs?: number;
};

export interface RunningServer {
  /** `http://127.0.0.1:PORT/`: the `host` listened on, or a loopback address when that is every interface (`listenUrl`). */
  url: string;
  port: number;
  /** The address listened on, as the socket says it: `0.0.0.0` or `::` for every interface. */
  address: string;
  store: Store;
  blobs: BlobStore;
  /**
   * The queue computing deltas after each publish (`idle()` resolves once they are all stored),
   * null with `deltas: false` or for a given `app` whose update server is not `checkInLane`.
   */
  deltas: DeltaQueue | null;
  /**
   * Stops listening, drops open connections (keep-alive included), stops the delta queue (what
   * it had pending is computed at the next start) and closes a store it opened.
   */
  close(): Promise<void>;
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  // Before anything is opened. Node's own headersTimeout (60 s) stays: the check-in lane and the
  // in-flight gate count a request only once its headers are read.
  const requestTimeout = integerIn('requestTimeoutMs', options.requestTimeoutMs ?? (options.app ? 300_000 : 0), [0, 2_147_483_647]);
  const dataDir = options.dataDir ?? '.updraft';
  const ownStore = !options.store;
  // A store opened here is also closed here, so its client writes are batched (write-behind) and
  // close() flushes them. A store passed in is used as given: wrap it with writeBehind() to batch.
  const opened = options.store ?? (await openStore(options.db ?? dataDir));
  const store = options.store ?? writeBehind(opened);
  // Servers sharing one PostgreSQL book capacity slots in it, so together they respect one budget.
  const slotLedger = options.slotLedger ?? (options.capacity && opened instanceof PostgresStore ? new PostgresSlotLedger(opened.pool) : undefined);
  const blobs = options.blobs ?? new BlobStore(join(dataDir, 'blobs'));
  // A server killed mid-upload leaves temp files; the next start of the same data dir clears them.
  if (!options.blobs) await blobs.removeStaleTemp();
  let app: ReturnType<typeof createUpdateServer>;
  try {
    app = options.app ?? createUpdateServer({ ...options, store, blobs, ...(slotLedger ? { slotLedger } : {}) });
  } catch (err) {
    // Bad options (a capacity key naming no source, ...): close what was opened for them.
    if (ownStore) await store.close();
    throw err;
  }
  const host = listenHost(options.host ?? '127.0.0.1');

  const honoListener = getRequestListener(app.fetch, { hostname: host });
  const lane = checkInLaneOf(options.checkInLane ?? app);
  const deltas = deltaQueueOf(options.checkInLane ?? app) ?? null;
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createServer({ requestTimeout }, lane ? (req, res) => lane(req, res) || void honoListener(req, res) : honoListener);
    s.listen(options.port ?? 0, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  }).catch(async (err: unknown) => {
    if (ownStore) await store.close();
    throw err;
  });
  const bound = server.address() as AddressInfo;

  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // close() alone waits for idle keep-alive sockets to time out; tests need "down" to mean down now.
      server.closeAllConnections();
    }).then(async () => {
      // Before the store closes: the queue reads releases from it.
      await deltas?.close();
      if (ownStore) await store.close();
    }));

  return { url: listenUrl(host, bound), port: bound.port, address: bound.address, store, blobs, deltas, close };
}
