/** What one source (the origin, a CDN) may serve per second. A missing limit is no limit. */
export interface Budget {
  bytesPerSecond?: number;
  requestsPerSecond?: number;
}

/** Load booked at one source in one time bucket. */
export interface Charge {
  source: string;
  /** Bucket index: `floor(time / bucketMs)`. */
  index: number;
  bytes: number;
  requests: number;
  /** No more downloads may start in this bucket (its bytes or requests are used up). */
  full: boolean;
}

/** The slots one client holds for one target release, so checking in again does not book twice. */
export interface Reservation {
  to: string;
  notBefore: number[];
  sourceFirst: number[];
}

/** The slots of one client's plan: per fetch, when it may start and which of its sources to try first. */
export interface Slots {
  notBefore: number[];
  sourceFirst: number[];
}

/** One client's plan to book on a `SharedSlotLedger`. */
export interface SlotBooking {
  /** Who holds the reservation (`app\nclient`). */
  client: string;
  /** The target release: a reservation for another one is replaced. */
  to: string;
  /** Per fetch, its size and source keys in preference order. */
  fetches: readonly { size: number; sources: readonly string[] }[];
  /** No fetch starts before this, epoch ms. */
  earliest: number;
  now: number;
  capacity: Readonly<Record<string, Budget>>;
  /** Every fetch must be through by this, epoch ms (the plan's `expiresAt`), else nothing is booked (see `SlotPlanInput.horizon`). */
  horizon?: number;
}

/**
 * A ledger several server processes share (e.g. `PostgresSlotLedger`): it books a whole plan at
 * once, atomically, so their slots together respect one budget. Same semantics as `bookSlots` on a
 * `SlotLedger` (reservations kept and reused, buckets forgotten once passed).
 */
export interface SharedSlotLedger {
  readonly bucketMs: number;
  /** The client's slots, or null when the plan would not be through by `booking.horizon` (nothing booked). */
  bookPlan(booking: SlotBooking & { horizon?: undefined }): Promise<Slots>;
  bookPlan(booking: SlotBooking): Promise<Slots | null>;
}

export const isSharedSlotLedger = (l: SlotLedger | SharedSlotLedger): l is SharedSlotLedger => 'bookPlan' in l;

/** Read side of the ledger, all the pure slot planner needs. */
export interface SlotLedgerView {
  readonly bucketMs: number;
  bytes(source: string, index: number): number;
  requests(source: string, index: number): number;
  /** The first bucket at or after `index` that is not marked full (a bucket it returns may still be full in an overlay). */
  firstOpen(source: string, index: number): number;
}

/**
 * Booked load per source in time buckets, plus each client's reservation. In memory for one
 * process; several processes share a `SharedSlotLedger` instead.
 */
export interface SlotLedger extends SlotLedgerView {
  book(charges: readonly Charge[]): void;
  reservation(client: string): Reservation | undefined;
  reserve(client: string, r: Reservation): void;
  /** Forgets buckets that ended before `now`, and reservations whose every slot is older than `now - graceMs`. */
  releaseBefore(now: number, graceMs?: number): void;
}

interface SourceBuckets {
  bytes: Map<number, number>;
  requests: Map<number, number>;
  /** Full bucket → a later bucket to try next (union-find with path compression, so finding the frontier stays O(1) amortised). */
  next: Map<number, number>;
  /** No bucket below this is kept. */
  low: number;
}

export class MemorySlotLedger implements SlotLedger {
  readonly bucketMs: number;
  readonly #sources = new Map<string, SourceBuckets>();
  readonly #reservations = new Map<string, Reservation>();
  #releasedUpTo = -Infinity;
  #sweptAt = -Infinity;

  constructor(bucketMs = 1000) {
    this.bucketMs = bucketMs;
  }

  #source(name: string): SourceBuckets {
    let s = this.#sources.get(name);
    if (!s) this.#sources.set(name, (s = { bytes: new Map(), requests: new Map(), next: new Map(), low: Infinity }));
    return s;
  }

  bytes(source: string, index: number): number {
    return this.#sources.get(source)?.bytes.get(index) ?? 0;
  }

  requests(source: string, index: number): number {
    return this.#sources.get(source)?.requests.get(index) ?? 0;
  }

  firstOpen(source: string, index: number): number {
    const next = this.#sources.get(source)?.next;
    if (!next) return index;
    let i = index;
    while (next.has(i)) i = next.get(i)!;
    // Path compression: everything passed on the way points at the answer.
    for (let j = index; j !== i; ) {
      const k = next.get(j)!;
      next.set(j, i);
      j = k;
    }
    return i;
  }

  book(charges: readonly Charge[]): void {
    for (const c of charges) {
      const s = this.#source(c.source);
      s.bytes.set(c.index, (s.bytes.get(c.index) ?? 0) + c.bytes);
      if (c.requests) s.requests.set(c.index, (s.requests.get(c.index) ?? 0) + c.requests);
      if (c.full) s.next.set(c.index, c.index + 1);
      if (c.index < s.low) s.low = c.index;
    }
  }

  reservation(client: string): Reservation | undefined {
    return this.#reservations.get(client);
  }

  reserve(client: string, r: Reservation): void {
    this.#reservations.delete(client);
    this.#reservations.set(client, r);
  }

  releaseBefore(now: number, graceMs = 60_000): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.#releasedUpTo) return;
    this.#releasedUpTo = index;
    for (const s of this.#sources.values()) {
      // Links only point forward, so dropping those of released buckets leaves the rest valid.
      for (let i = s.low; i < index; i++) {
        s.bytes.delete(i);
        s.requests.delete(i);
        s.next.delete(i);
      }
      if (s.low < index) s.low = index;
    }
    // One pass over the reservations per 64 buckets keeps the sweep amortised O(1) per booking.
    if (index - this.#sweptAt >= 64) {
      this.#sweptAt = index;
      for (const [k, r] of this.#reservations) {
        let last = -Infinity;
        for (const t of r.notBefore) if (t > last) last = t;
        if (last < now - graceMs) this.#reservations.delete(k);
      }
    }
  }

  /** Reservations held (for tests and the simulation's memory figure). */
  get reservations(): number {
    return this.#reservations.size;
  }
}
