/**
 * Every failure Updraft reports, as a stable code. The server maps codes to HTTP statuses in one
 * place (`server/errors.ts`); the SW puts them in `failed` reports; the page client surfaces them
 * in `failed` events. Messages are for people; tests and programs look at `code`.
 */
export const ERROR_CODES = {
  // request shape
  bad_request: 400,
  invalid_json: 400,
  invalid_body: 400,
  body_too_large: 413,
  invalid_hash: 400,
  invalid_path: 400,
  range_not_satisfiable: 416,
  // access
  unauthorized: 401,
  forbidden: 403,
  // lookup
  not_found: 404,
  unknown_release: 404,
  unknown_channel: 404,
  unknown_app: 404,
  // publish
  hash_mismatch: 400,
  size_mismatch: 400,
  missing_parts: 409,
  release_conflict: 409,
  // channels
  minimum_ahead: 409, // a channel's minimum release would be newer than the release it offers
  // load
  overloaded: 503,
  too_many_requests: 429,
  timeout: 408, // a request body did not arrive in time (bodyTimeoutMs) or came too slowly (uploadMinRate); the connection is closed (additive)
  // client-side outcomes (reported, never answered by the server)
  content: 0, // a part's bytes did not match its hash or size at every source
  transport: 0, // every source failed at the network level, repeatedly
  quota: 0, // the browser refused to store the update
  install: 0, // the staged release could not be written
  superseded: 0, // a newer plan replaced this one
  plan_expired: 0,
  signature: 0, // a plan without a valid signature by a trusted key: refused, never stored (since 0.2)
  downgrade: 0, // a plan to a lower release sequence without a signed rollback directive, or one issued for another release than the one running (`from`): refused (since 0.2)
  boot_failed: 0, // no page confirmed the activated release (`ready()`) in time: rolled back (since 0.1, additive)
  withdrawn: 0, // the server withdrew the update (a pause or a roll back): `applyUpdate()` has nothing to apply (since 0.5)
  uncontrolled: 0, // the page was loaded bypassing its service worker (a hard reload): `controlled` rejects, the page runs from the network (additive)
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export class UpdraftError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'UpdraftError';
    this.code = code;
    this.details = details;
  }

  /** HTTP status for this code; client-side codes have none and map to 500 if ever thrown at the server. */
  get status(): number {
    const status = ERROR_CODES[this.code];
    return status === 0 ? 500 : status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.details !== undefined) body.error.details = this.details;
    return body;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The code and message an error answer's body (`ErrorBody`) carries; `fallback` and null for a body that is not one. */
export function readErrorBody(body: unknown, fallback: ErrorCode): { code: ErrorCode; message: string | null } {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null | undefined)?.error;
  return { code: isErrorCode(err?.code) ? err.code : fallback, message: typeof err?.message === 'string' ? err.message : null };
}
