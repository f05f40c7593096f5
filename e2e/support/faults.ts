/**
 * A fault table shared by the test origin and the test CDN, and the request log tests assert on.
 * Faults are keyed by part hash (or by path for non-blob routes) and consumed in order.
 */
export type Fault =
  | { kind: 'status'; status: 429 | 503 | 404 | 500; retryAfter?: number | string; times?: number }
  | { kind: 'corrupt'; times?: number }
  | { kind: 'drop'; times?: number }
  /** Holds the response until `release()`; the request is logged when it arrives. */
  | { kind: 'hang'; times?: number };

export type Verdict = { kind: 'pass' } | { kind: 'corrupt' } | { kind: 'drop' } | { kind: 'status'; status: number; retryAfter?: number | string };

/** `via: 'cdn'` marks the test CDN pulling from the origin, so tests can count the browser's own requests. */
export interface RequestRecord { path: string; at: number; via: 'browser' | 'cdn' }

export class Traffic {
  readonly requests: RequestRecord[] = [];
  /** Paths of requests whose client went away before the answer was sent whole (the browser aborted them). */
  readonly aborted: string[] = [];
  #bytes = new Map<string, number>();

  record(path: string, via: RequestRecord['via'] = 'browser'): void {
    this.requests.push({ path, at: Date.now(), via });
  }

  bytes(path: string, n: number): void {
    this.#bytes.set(path, (this.#bytes.get(path) ?? 0) + n);
  }

  /** How many times the browser requested `path` (or any path matching). */
  count(path: string | RegExp): number {
    return this.fromBrowser().filter((r) => (typeof path === 'string' ? r.path === path : path.test(r.path))).length;
  }

  /** Blob hashes the browser requested, in order (with repeats). */
  blobs(): string[] {
    return this.fromBrowser().flatMap((r) => /^\/v1\/blobs\/([0-9a-f]{64})$/.exec(r.path)?.[1] ?? []);
  }

  fromBrowser(): RequestRecord[] {
    return this.requests.filter((r) => r.via === 'browser');
  }

  totalBytes(): number {
    let n = 0;
    for (const v of this.#bytes.values()) n += v;
    return n;
  }

  clear(): void {
    this.requests.length = 0;
    this.aborted.length = 0;
    this.#bytes.clear();
  }
}

export class Faults {
  readonly traffic = new Traffic();
  #table = new Map<string, Fault[]>();
  #hung: ((v: Verdict) => void)[] = [];
  #hangWaiters: (() => void)[] = [];

  /** Adds a fault for a part hash or a path; `times` (default 1, Infinity for always). */
  add(key: string, fault: Fault): void {
    const list = this.#table.get(key) ?? [];
    list.push(fault);
    this.#table.set(key, list);
  }

  clear(): void {
    this.#table.clear();
    this.releaseAll();
  }

  /** Lets every hung request go on (they are then served normally). */
  releaseAll(): void {
    for (const r of this.#hung.splice(0)) r({ kind: 'pass' });
  }

  /** Breaks every hung request's connection (where the server supports `drop`): the network went away mid-response. */
  dropHung(): void {
    for (const r of this.#hung.splice(0)) r({ kind: 'drop' });
  }

  /** How many requests are hanging now. */
  get hanging(): number {
    return this.#hung.length;
  }

  /** Resolves once some request is hanging. */
  async waitForHang(): Promise<void> {
    if (this.#hung.length > 0) return;
    await new Promise<void>((r) => this.#hangWaiters.push(r));
  }

  /** Records the request and decides its fate; hangs are awaited here. */
  async apply(path: string, key: string = path, via: RequestRecord['via'] = 'browser'): Promise<Verdict> {
    this.traffic.record(path, via);
    const list = this.#table.get(key);
    const fault = list?.[0];
    if (!fault) return { kind: 'pass' };
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) list!.shift();
    else fault.times = left;
    if (fault.kind === 'hang') {
      return await new Promise<Verdict>((resolve) => {
        this.#hung.push(resolve);
        for (const w of this.#hangWaiters.splice(0)) w();
      });
    }
    if (fault.kind === 'status') return { kind: 'status', status: fault.status, ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {}) };
    return { kind: fault.kind };
  }
}
