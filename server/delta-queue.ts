import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { predecessors, type DeltaPair } from './delta-match.js';
import type { DeltaStore } from './delta-store.js';
import type { Store, StoredRelease } from './store.js';

export interface DeltaQueueOptions {
  store: Store;
  deltas: DeltaStore;
  /** Earlier releases of the app whose parts serve as bases. */
  history: number;
  maxBytes: number;
  /** Budget of one pair (delta-compute.ts). */
  maxMs: number;
  /** Called after a delta for a release of `app` is stored: cached plans may now offer it. */
  onDelta?: (app: string) => void;
}

interface Job {
  id: string;
  app: string;
  pairs: DeltaPair[];
}

type Release = Pick<StoredRelease, 'manifest' | 'seq'>;

const RELEASE_ID = /^[0-9a-f]{16}$/;
/** Jobs taking longer than this are logged with their counts (a quick one says nothing new). */
const LOG_AFTER_MS = 1000;

/**
 * Deltas for published releases, computed after the publish has answered: one pair at a time per
 * server process (a large pair takes a worker thread for up to `maxMs`; two at once would take
 * both cores of a small server from the requests it serves). A release is usable without its
 * deltas: until one is stored, plans simply fetch that part whole.
 *
 * Durable through a marker per release, `<blobs>/deltas/pending/<release id>`, written before the
 * publish answers and removed once every pair of the release was tried: a server stopped with
 * deltas pending finds them at its next start (`resume`), as does the next publish on any process
 * sharing the blobs directory. Two processes may then compute the same delta; each writes it
 * whole under a temp name and renames it (atomic-file.ts), so the second write only replaces
 * identical bytes.
 */
export class DeltaQueue {
  readonly #o: DeltaQueueOptions;
  readonly #dir: string;
  readonly #jobs: Job[] = [];
  /** Ids queued or being queued, not yet started: their marker must stay. */
  readonly #waiting = new Set<string>();
  #current: { job: Job; left: number } | null = null;
  #running = false;
  /** `enqueue`/`resume` calls under way: `idle` waits for the jobs they are about to queue. */
  #adding = 0;
  readonly #idle: (() => void)[] = [];
  readonly #abort = new AbortController();

  constructor(o: DeltaQueueOptions) {
    this.#o = o;
    this.#dir = join(o.deltas.root, 'pending');
  }

  /** Pairs not computed yet (of `app`'s releases when given), the one being computed included. */
  pending(app?: string): number {
    let n = this.#current && (!app || this.#current.job.app === app) ? this.#current.left : 0;
    for (const job of this.#jobs) if (!app || job.app === app) n += job.pairs.length;
    return n;
  }

  /**
   * Releases with a marker in the pending folder that this process neither computes nor has
   * queued: another server sharing the blobs directory is computing them (it took the publish),
   * or stopped before it finished (the next start or publish here takes them up). `pending()`
   * cannot count those, so a `status` answered by another server than the publisher's said none.
   * Of `app`'s releases when given; a marker of a release this store does not know is not counted.
   */
  async pendingElsewhere(app?: string): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const id of names) {
      if (!RELEASE_ID.test(id) || this.#waiting.has(id) || this.#current?.job.id === id) continue;
      const release = await this.#o.store.getRelease(id);
      if (release && (!app || release.manifest.app === app)) n++;
    }
    return n;
  }

  /**
   * Queues the deltas of `release` (stored by now) and returns once that is durable, not once they
   * are computed. Also on a re-publish: deltas that exist are skipped, so one cut short (crash,
   * disk full) is completed. Then queues what other processes left pending (`resume`).
   */
  async enqueue(release: Release): Promise<void> {
    if (this.#abort.signal.aborted || this.#waiting.has(release.manifest.id)) return;
    this.#waiting.add(release.manifest.id);
    this.#adding++;
    try {
      await this.#mark(release.manifest.id);
      await this.#add(release);
    } catch (e) {
      this.#waiting.delete(release.manifest.id);
      throw e;
    } finally {
      this.#adding--;
      this.#settled();
    }
    void this.resume();
  }

  /**
   * Queues every release a marker names that this process is not already working on: at start,
   * what a stopped server left; at each publish, what another process left (it may have died).
   */
  async resume(): Promise<void> {
    this.#adding++;
    try {
      await this.#resume();
    } finally {
      this.#adding--;
      this.#settled();
    }
  }

  async #resume(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') console.warn(`updraft: pending deltas not read: ${(e as Error).message}`);
      return;
    }
    for (const id of names.filter((n) => RELEASE_ID.test(n))) {
      if (this.#abort.signal.aborted || this.#waiting.has(id) || this.#current?.job.id === id) continue;
      this.#waiting.add(id);
      try {
        const release = await this.#o.store.getRelease(id);
        if (release) await this.#add(release);
        else {
          // A release that is not stored gets no deltas (a marker from another database, say).
          this.#waiting.delete(id);
          await unlink(join(this.#dir, id)).catch(() => {});
        }
      } catch (e) {
        this.#waiting.delete(id);
        console.warn(`updraft: pending deltas of ${id} not queued: ${(e as Error).message}`);
      }
    }
  }

  /** Resolves once nothing is queued, being queued or being computed (at once when idle). */
  idle(): Promise<void> {
    if (!this.#running && this.#adding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Wakes `idle` waiters when nothing is left under way. */
  #settled(): void {
    if (!this.#running && this.#adding === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /**
   * Stops computing (a pair under way is abandoned, nothing of it written) and resolves once the
   * queue has stopped. Markers stay: the next start computes what is left.
   */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.idle();
  }

  async #mark(id: string): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true });
      await writeFileAtomic(join(this.#dir, id), new Uint8Array());
    } catch (e) {
      // A delta only saves bytes: without a marker they are still computed now, only not after a restart.
      console.warn(`updraft: deltas of ${id} queued without a marker (not resumed after a restart): ${(e as Error).message}`);
    }
  }

  /** The pairs of `release` against its `history` predecessors, queued; starts the loop. */
  async #add(release: Release): Promise<void> {
    const { manifest, seq } = release;
    const earlier = (await this.#o.store.listReleases(manifest.app)).filter((r) => r.seq < seq).sort((a, b) => b.seq - a.seq).slice(0, this.#o.history);
    this.#jobs.push({ id: manifest.id, app: manifest.app, pairs: earlier.flatMap((r) => predecessors(r.manifest, manifest)) });
    if (this.#running) return;
    this.#running = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    try {
      for (let job = this.#jobs.shift(); job && !this.#abort.signal.aborted; job = this.#jobs.shift()) await this.#compute(job);
    } catch (e) {
      console.warn(`updraft: delta queue stopped: ${(e as Error).message}`);
    } finally {
      // In the same tick as the last `shift()` that found nothing: a job queued later starts a new run.
      this.#running = false;
      this.#current = null;
      this.#settled();
    }
  }

  async #compute(job: Job): Promise<void> {
    this.#waiting.delete(job.id);
    const current = { job, left: job.pairs.length };
    this.#current = current;
    const started = performance.now();
    let stored = 0;
    for (const pair of job.pairs) {
      if (this.#abort.signal.aborted) return;
      // A delta only saves bytes, and the release is published: one that cannot be computed or
      // written (disk full, a broken deltas folder) is one not offered. Publishing the release
      // again tries what is missing.
      try {
        if (await this.#o.deltas.ensure(pair.from, pair.to, this.#o, this.#abort.signal)) {
          stored++;
          this.#o.onDelta?.(job.app);
        }
      } catch (e) {
        console.warn(`updraft: delta ${pair.from.slice(0, 12)}… → ${pair.to.slice(0, 12)}… not written: ${(e as Error).message}`);
      }
      current.left--;
    }
    if (this.#abort.signal.aborted) return;
    // Queued again meanwhile (a re-publish): its marker is that job's now. Removed while the job
    // is still `#current`, so a `resume` meanwhile does not queue the release a second time.
    if (!this.#waiting.has(job.id)) await unlink(join(this.#dir, job.id)).catch(() => {});
    this.#current = null;
    const ms = performance.now() - started;
    if (ms >= LOG_AFTER_MS) {
      console.info(`updraft: deltas of ${job.app} ${job.id}: ${stored} of ${job.pairs.length} stored in ${(ms / 1000).toFixed(1)} s; ${this.pending()} pair(s) pending`);
    }
  }
}
