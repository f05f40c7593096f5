import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import type { ChannelState, ChannelUpdate, ReleaseManifest, StatusResponse } from '../../protocol/index.js';
import { MANIFEST_FILE, PATHS } from '../../protocol/index.js';
import { BlobStore, createPlanSigner, createUpdateServer, deltaQueueOf, loadSigningKey, openSqliteStore, publishDirectory, startServer, type PublishOptions, type DeltaQueue, type RunningServer, type SqliteStore, type UpdateServerOptions } from '../../server/index.js';
import { Faults } from './faults.js';
import { CDN_PULL_HEADER, TestCdn, corrupt } from './cdn.js';
import { E2E_KEY_BASE, buildDir, type BuildName } from './builds.js';

export const TOKEN = 'test-admin-token';

export interface HarnessOptions {
  /** Put the test CDN first in every plan's sources. @default true */
  cdn?: boolean;
  /** Seconds between check-ins the server asks for. @default 3600 */
  checkInInterval?: number;
  /**
   * PEM private keys the server signs plans with; `[]` for unsigned plans.
   * @default the key every e2e build trusts (`E2E_KEY_BASE`)
   */
  signingKeys?: string[];
  /** The server's clock, epoch ms. @default Date.now */
  now?: () => number;
  /**
   * The server's `deltas` option. Off unless asked for: the other specs count whole-part requests
   * per source, and deltas (e2e/deltas.spec.ts) would make the demo's small changes arrive inside
   * the plan instead. `{}` is the server's default; `{ inlineBytes: 0 }` makes every delta a request.
   * @default false
   */
  deltas?: UpdateServerOptions['deltas'];
  /** The server's `planRefMinBytes`: `0` answers the worker's updates by reference. @default the server's (8 KB) */
  planRefMinBytes?: number;
}

/**
 * A real deployment for one test: the Updraft server on 127.0.0.1 with a fresh SQLite store in a
 * temp dir, behind a fault/traffic layer, and a real second origin as CDN. Both can be stopped
 * and started again on the same ports.
 */
export class Harness {
  readonly faults = new Faults();
  readonly traffic = this.faults.traffic;
  /** Every check-in body the origin received, in order (what the client told the server). */
  /** Every check-in the server got: its body, and the answer's Content-Encoding once answered (null: none). */
  readonly checkIns: { at: number; body: unknown; encoding?: string | null }[] = [];
  readonly cdn: TestCdn | null;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'updraft-e2e-'));
  #server: RunningServer | null = null;
  #ownStore: SqliteStore | null = null;
  #deltas: DeltaQueue | null = null;
  #port = 0;
  #options: HarnessOptions;

  private constructor(options: HarnessOptions) {
    this.#options = options;
    this.cdn = options.cdn === false ? null : new TestCdn();
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness(options);
    await h.cdn?.start();
    await h.startOrigin();
    if (h.cdn) h.cdn.origin = h.url;
    return h;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/`;
  }

  async startOrigin(): Promise<void> {
    const store = openSqliteStore(this.dataDir);
    const blobs = new BlobStore(join(this.dataDir, 'blobs'));
    const updates = createUpdateServer({
      store,
      blobs,
      token: TOKEN,
      cdn: this.cdn ? [this.cdn.url] : [],
      checkInInterval: this.#options.checkInInterval ?? 3600,
      signer: createPlanSigner(await Promise.all((this.#options.signingKeys ?? [readFileSync(`${E2E_KEY_BASE}.key`, 'utf8')]).map((pem) => loadSigningKey(pem)))),
      ...(this.#options.now ? { now: this.#options.now } : {}),
      deltas: this.#options.deltas ?? false,
      ...(this.#options.planRefMinBytes !== undefined ? { planRefMinBytes: this.#options.planRefMinBytes } : {}),
    });
    const app = new Hono();
    app.use('*', async (c, next) => {
      const path = new URL(c.req.url).pathname;
      const key = /^\/v1\/blobs\/([0-9a-f]{64})$/.exec(path)?.[1] ?? path;
      const checkIn = path === '/v1/check-in' && c.req.method === 'POST' ? { at: Date.now(), body: await c.req.raw.clone().json().catch(() => null) as unknown } : null;
      if (checkIn) this.checkIns.push(checkIn);
      const verdict = await this.faults.apply(path, key, c.req.header(CDN_PULL_HEADER) ? 'cdn' : 'browser');
      if (verdict.kind === 'status') {
        const headers: Record<string, string> = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Retry-After' };
        if (verdict.retryAfter !== undefined) headers['retry-after'] = String(verdict.retryAfter);
        return c.json({ error: { code: verdict.status === 429 ? 'too_many_requests' : 'overloaded', message: 'injected' } }, verdict.status as 503, headers);
      }
      await next();
      if (checkIn) Object.assign(checkIn, { encoding: c.res.headers.get('content-encoding') });
      if (verdict.kind === 'corrupt' && c.res.ok) {
        // Corrupt the bytes the hash is of (decoded), sent as identity: a broken brotli stream would
        // be a transport error, not the content error this fault stands for.
        const encoding = c.res.headers.get('content-encoding');
        const raw = Buffer.from(await c.res.arrayBuffer());
        const decoded = encoding === 'br' ? brotliDecompressSync(raw) : encoding === 'gzip' ? gunzipSync(raw) : raw;
        // The last byte, not the first: a CDN pulling through and flipping the first must not undo it.
        const bytes = corrupt(new Uint8Array(decoded), -1);
        const headers = new Headers(c.res.headers);
        headers.delete('content-encoding');
        headers.set('content-length', String(bytes.byteLength));
        c.res = undefined as unknown as Response; // replace, not merge: the old encoding headers must go
        c.res = new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers });
      }
    });
    app.route('/', updates);
    this.#server = await startServer({ app, port: this.#port, store, blobs });
    this.#deltas = deltaQueueOf(updates) ?? null;
    this.#ownStore = store;
    this.#port = this.#server.port;
  }

  async stopOrigin(): Promise<void> {
    this.faults.releaseAll();
    await this.#server?.close();
    // Before the store: the queue reads releases from it (what it had pending resumes at the next start).
    await this.#deltas?.close();
    this.#deltas = null;
    await this.#ownStore?.close();
    this.#server = null;
    this.#ownStore = null;
  }

  /** Stops the origin and the CDN: what the browser then shows comes from its service worker. */
  async stopAll(): Promise<void> {
    await this.cdn?.stop();
    await this.stopOrigin();
  }

  manifest(version: BuildName): ReleaseManifest {
    return JSON.parse(readFileSync(join(buildDir(version), MANIFEST_FILE), 'utf8')) as ReleaseManifest;
  }

  /** Publishes a demo build and points `channel` at it; returns its manifest. */
  async publish(version: BuildName, options: PublishOptions = {}): Promise<ReleaseManifest> {
    await publishDirectory(buildDir(version), { channel: 'stable', ...options, server: this.url, token: TOKEN });
    // The server answers before it has computed the release's deltas (with `deltas` on): specs
    // plan and count traffic against a server that has them all.
    await this.#deltas?.idle();
    return this.manifest(version);
  }

  /** The admin status (releases, channels, clients, report counts). */
  async status(): Promise<StatusResponse> {
    const res = await fetch(new URL('v1/admin/status', this.url), { headers: { authorization: `Bearer ${TOKEN}` } });
    if (!res.ok) throw new Error(`status answered ${res.status}`);
    return (await res.json()) as StatusResponse;
  }

  /** Changes a channel through the admin API, as `updraft rollout` does (`release` back is a roll back); expects 200. */
  async rollout(update: ChannelUpdate, channel = 'stable'): Promise<ChannelState> {
    const res = await fetch(new URL(PATHS.adminChannel(channel), this.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(update),
    });
    if (res.status !== 200) throw new Error(`channel ${channel}: ${JSON.stringify(update)} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as ChannelState;
  }

  async close(): Promise<void> {
    await this.stopAll();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Part hashes a release has that `from` lacks: what an update from `from` must download. */
export function changedParts(from: ReleaseManifest, to: ReleaseManifest): string[] {
  const have = new Set(from.assets.map((a) => a.sha256));
  return [...new Set(to.assets.map((a) => a.sha256).filter((s) => !have.has(s)))].sort();
}
