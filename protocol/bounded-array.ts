import * as v from 'valibot';

/**
 * `v.array(item)` of at most `max` items, the length checked before any item: valibot checks every
 * item first and keeps an issue per bad field, so a 1 MB report batch of a third of a million
 * `{}` took seconds of event loop and a gigabyte before `maxLength` could refuse it.
 */
export function boundedArray<const T extends v.GenericSchema>(item: T, max: number) {
  return v.pipe(
    v.custom<unknown[]>((x) => !Array.isArray(x) || x.length <= max, (issue) => `must hold at most ${max} items, got ${(issue.input as unknown[]).length}`),
    v.array(item),
  );
}
