/** HTTP byte ranges (RFC 9110 §14): shared by the server's blob route and the worker's answers to media elements. */
export interface ByteRange { start: number; end: number }

/**
 * Parses a `Range` header against a resource of `size` bytes (RFC 9110 §14.2). Returns the
 * inclusive range, or `'unsatisfiable'`. Only one range is served: multi-range requests and
 * malformed headers are refused rather than answered with multipart bodies (a known
 * amplification vector, and no Updraft client sends them).
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' {
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  if (m[1] === '') {
    // Suffix range: the last N bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
