import * as v from 'valibot';

/** C0 control characters and DEL: line breaks, tabs, NUL, the escape that starts terminal sequences. */
export const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Text people read in a terminal (`updraft status`) or a page: one line, no control characters,
 * so a value cannot forge lines of the status table or carry escape sequences to a terminal.
 */
export const label = (max: number) => v.pipe(v.string(), v.maxLength(max), v.check((s) => !CONTROL.test(s), 'must be one line without control characters'));
