/**
 * Validators for immutable bytes named by a hash (blobs, plan documents). One module so that both
 * routes answer conditional requests alike: a browser or CDN revalidating either sends the same
 * kinds of `If-None-Match`.
 */

/** The strong ETag of the bytes named `tag`, one per content coding (the encoded bytes differ). */
export function etagFor(tag: string, encoding: string | null): string {
  return encoding ? `"${tag}-${encoding}"` : `"${tag}"`;
}

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2): a list, `*`, and the weak
 * comparison it asks for, so `W/"x"` matches `"x"` (a proxy may weaken a tag it recompressed).
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === etag || tag === `W/${etag}` || tag === '*';
  });
}
