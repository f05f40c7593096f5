import * as v from 'valibot';
import { UpdraftError } from './errors.js';

/** Parses `input` with `schema` or throws `UpdraftError('invalid_body')` naming the first few problems. */
export function parse<S extends v.GenericSchema>(schema: S, input: unknown, what = 'body'): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const problems = result.issues.slice(0, 5).map((i) => `${v.getDotPath(i) ?? what}: ${i.message}`);
  throw new UpdraftError('invalid_body', `invalid ${what}: ${problems.join('; ')}`, { problems });
}
