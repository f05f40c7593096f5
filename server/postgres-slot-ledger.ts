import type pg from 'pg';
import { MemorySlotLedger, type SharedSlotLedger, type SlotBooking, type Slots } from './slot-ledger.js';
import { planSlots } from './slot-planner.js';

export interface PostgresSlotLedgerOptions {
  /** Bucket length, ms; every process sharing the database must use the same. @default 1000 */
  bucketMs?: number;
  /** A reservation is forgotten this long after its last slot, and a bucket this long after it passed, ms. @default 60_000 */
  graceMs?: number;
  /** Fraction of each budget booked (see `planSlots`). @default 0.96 */
  utilization?: number;
  /** Bookings tried before giving up when other processes keep taking the same buckets. @default 50 */
  maxAttempts?: number;
}

interface SlotRow { source: string; bucket: number; bytes: number; requests: number; is_full: boolean }
interface ReservationRow { target: string; not_before: string; source_first: string }

/** A booked bucket may exceed its cap by float rounding only. */
const EPSILON = 1e-6;

/**
 * The capacity ledger in PostgreSQL (tables `updraft_slots` and `updraft_slot_reservations`,
 * created by `PostgresStore.open`), so several server processes sharing one database book their
 * slots against one budget.
 *
 * Optimistic: a booking reads the buckets of its sources from its earliest one on, plans with the
 * pure `planSlots` on that snapshot, then adds its charges in one `INSERT ... ON CONFLICT DO
 * UPDATE ... WHERE booked + charge <= cap`. The row lock makes each bucket's check and add atomic,
 * so no two processes can overbook a bucket: if any charge no longer fits (another process booked
 * there since the read), the transaction rolls back and the booking is planned again on a fresh
 * read. Bookings of one process run one at a time, so only other processes can make it retry.
 */
export class PostgresSlotLedger implements SharedSlotLedger {
  readonly bucketMs: number;
  readonly #pool: pg.Pool;
  readonly #graceMs: number;
  readonly #utilization: number | undefined;
  readonly #maxAttempts: number;
  #queue: Promise<unknown> = Promise.resolve();
  #sweptAt = -Infinity;
  /** Bookings that had to be planned again (tests, metrics). */
  retries = 0;

  constructor(pool: pg.Pool, options: PostgresSlotLedgerOptions = {}) {
    this.#pool = pool;
    this.bucketMs = options.bucketMs ?? 1000;
    this.#graceMs = options.graceMs ?? 60_000;
    this.#utilization = options.utilization;
    this.#maxAttempts = options.maxAttempts ?? 50;
  }

  bookPlan(booking: SlotBooking & { horizon?: undefined }): Promise<Slots>;
  bookPlan(booking: SlotBooking): Promise<Slots | null>;
  bookPlan(booking: SlotBooking): Promise<Slots | null> {
    const run = this.#queue.then(() => this.#book(booking));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #book(b: SlotBooking): Promise<Slots | null> {
    await this.#sweep(b.now);
    const prior = await this.#pool.query<ReservationRow>(
      'SELECT target, not_before, source_first FROM updraft_slot_reservations WHERE client = $1 AND last_slot >= $2',
      [b.client, b.now - this.#graceMs],
    );
    const r = prior.rows[0];
    if (r && r.target === b.to) {
      const slots: Slots = { notBefore: JSON.parse(r.not_before) as number[], sourceFirst: JSON.parse(r.source_first) as number[] };
      if (slots.notBefore.length === b.fetches.length) return slots;
    }
    const sources = [...new Set(b.fetches.flatMap((f) => f.sources))].filter((s) => b.capacity[s]);
    const first = Math.floor(b.earliest / this.bucketMs);
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const view = new MemorySlotLedger(this.bucketMs);
      if (sources.length) {
        const { rows } = await this.#pool.query<SlotRow>(
          'SELECT source, bucket, bytes, requests, is_full FROM updraft_slots WHERE source = ANY($1::text[]) AND bucket >= $2',
          [sources, first],
        );
        view.book(rows.map((x) => ({ source: x.source, index: x.bucket, bytes: x.bytes, requests: x.requests, full: x.is_full })));
      }
      const plan = planSlots({ fetches: b.fetches, earliest: b.earliest, capacity: b.capacity, ledger: view, utilization: this.#utilization, horizon: b.horizon });
      if (!plan) return null;
      const slots: Slots = { notBefore: plan.notBefore, sourceFirst: plan.sourceFirst };
      const perBucket = this.bucketMs / 1000;
      const util = this.#utilization ?? 0.96;
      const charges = plan.charges.map((c) => {
        const budget = b.capacity[c.source]!;
        return { ...c, bytesCap: (budget.bytesPerSecond ?? Infinity) * perBucket * util, requestsCap: (budget.requestsPerSecond ?? Infinity) * perBucket * util };
      });
      const db = await this.#pool.connect();
      try {
        await db.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        // Sorted, so two bookings lock shared buckets in the same order (no deadlock).
        const { rowCount } = await db.query(
          `INSERT INTO updraft_slots AS s (source, bucket, bytes, requests, is_full)
           SELECT c.source, c.bucket, c.bytes, c.requests, c.is_full
             FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::bool[]) AS c(source, bucket, bytes, requests, is_full)
            ORDER BY c.source, c.bucket
           ON CONFLICT (source, bucket) DO UPDATE SET
             bytes = s.bytes + excluded.bytes,
             requests = s.requests + excluded.requests,
             is_full = s.is_full OR excluded.is_full
               OR s.bytes + excluded.bytes >= (($6::float8[])[array_position($8::text[], s.source || ' ' || s.bucket)]) - ${EPSILON}
               OR s.requests + excluded.requests + 1 > ($7::float8[])[array_position($8::text[], s.source || ' ' || s.bucket)]
           WHERE s.bytes + excluded.bytes <= ($6::float8[])[array_position($8::text[], s.source || ' ' || s.bucket)] + ${EPSILON}
             AND s.requests + excluded.requests <= ($7::float8[])[array_position($8::text[], s.source || ' ' || s.bucket)] + ${EPSILON}`,
          [
            charges.map((c) => c.source), charges.map((c) => c.index), charges.map((c) => c.bytes), charges.map((c) => c.requests),
            charges.map((c) => c.full), charges.map((c) => c.bytesCap), charges.map((c) => c.requestsCap), charges.map((c) => `${c.source} ${c.index}`),
          ],
        );
        if (rowCount !== charges.length) {
          await db.query('ROLLBACK');
          this.retries++;
          continue;
        }
        await db.query(
          `INSERT INTO updraft_slot_reservations (client, target, not_before, source_first, last_slot) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (client) DO UPDATE SET target = excluded.target, not_before = excluded.not_before, source_first = excluded.source_first, last_slot = excluded.last_slot`,
          [b.client, b.to, JSON.stringify(slots.notBefore), JSON.stringify(slots.sourceFirst), Math.max(b.earliest, ...slots.notBefore)],
        );
        await db.query('COMMIT');
        return slots;
      } catch (err) {
        await db.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        db.release();
      }
    }
    throw new Error(`slot ledger: no booking after ${this.#maxAttempts} attempts (other servers kept taking the same buckets)`);
  }

  /**
   * Forgets buckets and reservations `graceMs` past, once per 64 buckets per process (any
   * process's sweep serves all). Not a bucket just past: a booking waits in its process's queue
   * with the `now` and `earliest` of its check-in, so under load it may plan into a second another
   * process has already seen go by. Had that process's sweep forgotten the bucket, the booking would
   * find it empty and book the whole budget into it again (postgres-fleet.test.ts saw 8 requests
   * in a second of a 4.8 budget on a loaded CI host).
   */
  async #sweep(now: number): Promise<void> {
    const index = Math.floor(now / this.bucketMs);
    if (index - this.#sweptAt < 64) return;
    this.#sweptAt = index;
    await this.#pool.query('DELETE FROM updraft_slots WHERE bucket < $1', [Math.floor((now - this.#graceMs) / this.bucketMs)]);
    await this.#pool.query('DELETE FROM updraft_slot_reservations WHERE last_slot < $1', [now - this.#graceMs]);
  }
}
