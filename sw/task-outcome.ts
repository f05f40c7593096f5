import type { ErrorCode } from '../protocol/index.js';

/**
 * What running one task came to; the runner turns it into a task record transition. `rejected`
 * lists bytes a source served that failed verification (each becomes a `rejected` report).
 */
export type TaskOutcome = (
  | { kind: 'done' }
  /** Not done yet: try again at `at` (local clock); `counted` when it used up an attempt. */
  | { kind: 'retry'; at: number; counted: boolean; error: string; code: 'content' | 'transport' }
  /** The plan fails for good. */
  | { kind: 'fail'; code: ErrorCode; message: string }
  /** Its plan was withdrawn or superseded while it ran (running-tasks.ts): no outcome to record. */
  | { kind: 'aborted'; why: string }
) & { rejected?: string[] };
