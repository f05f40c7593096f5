/**
 * A map that keeps its most recently used entries within a count and a byte budget, each entry's
 * cost given by the caller when it is set. For caches whose entries vary in size by orders of
 * magnitude (an inline delta is a few bytes or megabytes), where a count alone bounds nothing.
 */
export class ByteLru<K, V> {
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  readonly #entries = new Map<K, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxEntries: number, readonly maxBytes: number) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` as the most recently used, evicting the least recently used beyond the budgets; one costing more than `maxBytes` alone is not kept. */
  set(key: K, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The sum of the kept entries' costs. */
  get bytes(): number {
    return this.#bytes;
  }
}
