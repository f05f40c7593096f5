import type { Budget, Charge, SlotLedgerView } from './slot-ledger.js';

/** One fetch to place: its size and the source keys it may use, in preference order. */
export interface SlotRequest {
  size: number;
  sources: readonly string[];
}

export interface SlotPlanInput {
  fetches: readonly SlotRequest[];
  /** No fetch starts before this, epoch ms (now, or now plus the client's spread offset). */
  earliest: number;
  /** Budget per source key; a source without one is unlimited and books nothing. */
  capacity: Readonly<Record<string, Budget>>;
  ledger: SlotLedgerView;
  /**
   * Fraction of each budget the planner books. Downloads run at the clients' speeds, not the
   * ledger's, so a little headroom absorbs the spill between buckets and unbooked retries. @default 0.96
   */
  utilization?: number;
  /**
   * Epoch ms by which every fetch must be through at the budget's rate (the plan's `expiresAt`:
   * a worker drops a plan once it expires, so a later slot could never be used). A plan that does
   * not fit is not booked: `planSlots` returns null. It also bounds the work: a budget tiny next
   * to a part (a few bytes a second) spans one bucket per second of the part, and booking them
   * all took seconds of a check-in, or forever. @default unbounded
   */
  horizon?: number;
}

export interface SlotPlan {
  /** Per fetch, epoch ms. */
  notBefore: number[];
  /** Per fetch, the index in its `sources` of the source it was booked on (to be tried first). */
  sourceFirst: number[];
  /** What to add to the ledger. */
  charges: Charge[];
}

/** What is left of a request spilt over buckets by float rounding only. */
const REQUEST_EPSILON = 1e-9;

/**
 * Whether a bucket with `used` requests booked can start one more. A cap of at least one request
 * a bucket needs room for a whole one; a smaller cap (`requestsPerSecond: 1` is 0.96 a 1 s bucket
 * at the default utilisation) can never hold a whole request, so any room starts one, which
 * spills into the next buckets. Requiring a whole one there searched for a bucket forever.
 */
function requestRoom(used: number, reqCap: number): boolean {
  return reqCap >= 1 ? used + 1 <= reqCap : used < reqCap * (1 - REQUEST_EPSILON);
}

/**
 * Pure: when and from where each fetch of one plan should start so the expected load of every
 * source stays under its budget, as early as the budget allows.
 *
 * The model is fluid: a source with budget C serves its bookings back to back at rate C. A fetch
 * of `size` bytes starting in bucket k takes the bucket's remaining bytes and spills into the next
 * buckets; it starts at the point of bucket k where the bytes (or requests) booked before it end,
 * so starts are spread across the bucket rather than stacked at its beginning. Whatever the
 * clients' own speeds, downloads then start at the rate the budget drains them (Little's law), so
 * the load a source sees over a few seconds is the booked one. Each fetch goes to whichever source
 * can start it first (ties: the preferred one), and starts no earlier than the fetch before it.
 * Null when some fetch would not be through by `horizon`: nothing is booked for such a plan.
 */
export function planSlots(input: SlotPlanInput & { horizon?: undefined }): SlotPlan;
export function planSlots(input: SlotPlanInput): SlotPlan | null;
export function planSlots(input: SlotPlanInput): SlotPlan | null {
  const { ledger, capacity } = input;
  const util = input.utilization ?? 0.96;
  const bucketMs = ledger.bucketMs;
  const perBucket = bucketMs / 1000;
  /** The last bucket a charge may go in: it starts before the horizon. */
  const lastIndex = input.horizon === undefined ? Infinity : Math.ceil(input.horizon / bucketMs) - 1;
  /** Charges made by this plan so far, keyed `source\nindex`: the ledger is read-only here. */
  const overlay = new Map<string, Charge>();
  const used = (source: string, index: number) => {
    const o = overlay.get(`${source}\n${index}`);
    return { bytes: ledger.bytes(source, index) + (o?.bytes ?? 0), requests: ledger.requests(source, index) + (o?.requests ?? 0) };
  };
  const charge = (source: string, index: number, bytes: number, requests: number, full: boolean) => {
    const key = `${source}\n${index}`;
    const o = overlay.get(key);
    if (o) {
      o.bytes += bytes;
      o.requests += requests;
      o.full ||= full;
    } else overlay.set(key, { source, index, bytes, requests, full });
  };

  const plan: SlotPlan = { notBefore: [], sourceFirst: [], charges: [] };
  let earliest = input.earliest;
  for (const f of input.fetches) {
    let best: { at: number; source: number; index: number; bytesCap: number; reqCap: number } | null = null;
    for (let j = 0; j < f.sources.length; j++) {
      const budget = capacity[f.sources[j]!];
      if (!budget || (budget.bytesPerSecond === undefined && budget.requestsPerSecond === undefined)) {
        if (!best || earliest < best.at) best = { at: earliest, source: j, index: -1, bytesCap: Infinity, reqCap: Infinity };
        break; // Unlimited: nothing later in the list can start sooner.
      }
      const bytesCap = (budget.bytesPerSecond ?? Infinity) * perBucket * util;
      const reqCap = (budget.requestsPerSecond ?? Infinity) * perBucket * util;
      let index = ledger.firstOpen(f.sources[j]!, Math.floor(earliest / bucketMs));
      let u = used(f.sources[j]!, index);
      while (index <= lastIndex && (u.bytes >= bytesCap || !requestRoom(u.requests, reqCap))) {
        index = ledger.firstOpen(f.sources[j]!, index + 1);
        u = used(f.sources[j]!, index);
      }
      if (index > lastIndex) continue; // Booked up to the horizon.
      // Fluid position inside the bucket: after what is booked before this fetch.
      const fill = Math.min(1, Math.max(u.bytes / bytesCap, u.requests / reqCap));
      const at = Math.max(earliest, Math.floor(index * bucketMs + fill * bucketMs));
      if (!best || at < best.at) best = { at, source: j, index, bytesCap, reqCap };
    }
    if (!best) {
      if (f.sources.length === 0) throw new Error('a fetch needs at least one source');
      return null;
    }
    plan.notBefore.push(best.at);
    plan.sourceFirst.push(best.source);
    if (best.index >= 0) {
      const source = f.sources[best.source]!;
      const { bytesCap, reqCap } = best;
      let left = f.size;
      let index = best.index;
      // The fetch's one request: whole in its first bucket, or, under a budget of less than one
      // request a bucket, spilt over the next ones as bytes are (fluid, like the bytes).
      let requests = 1;
      for (;;) {
        const u = used(source, index);
        const take = Math.min(left, Math.max(0, bytesCap - u.bytes));
        const asks = reqCap >= 1 ? requests : Math.min(requests, Math.max(0, reqCap - u.requests));
        if (take > 0 || asks > 0) {
          const full = u.bytes + take >= bytesCap || !requestRoom(u.requests + asks, reqCap);
          charge(source, index, take, asks, full);
        }
        left -= take;
        requests -= asks;
        if (left <= 0 && requests <= REQUEST_EPSILON) break;
        // Not through by the horizon at the budget's rate.
        if (++index > lastIndex) return null;
      }
    }
    earliest = best.at;
  }
  plan.charges = [...overlay.values()];
  return plan;
}
