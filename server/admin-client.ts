import { PATHS, joinUrl } from '../protocol/index.js';

/** A CLI failure: a server error code, or one of the CLI's own (`usage`, `unreachable`, `io`). */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

export interface AdminClientOptions {
  /**
   * Seconds one request may take before it is `unreachable`: a server (or a proxy) that accepts
   * the connection and never answers would otherwise hold the CLI for minutes. A part upload
   * gets this plus one second per 256 KiB, so a large part on a slow link still goes up.
   * @default 30 (`UPDRAFT_TIMEOUT` for the CLI)
   */
  timeoutSeconds?: number;
}

/** Slowest upload rate a part upload is given time for, bytes per second. */
const UPLOAD_MIN_RATE = 256 * 1024;

/** The admin API over HTTP, for the CLI. Errors come back as `CliError` with the server's code. */
export class AdminClient {
  readonly server: string;
  readonly #token: string;
  readonly #timeoutSeconds: number;

  constructor(server: string, token: string, options: AdminClientOptions = {}) {
    this.server = server.endsWith('/') ? server : `${server}/`;
    this.#token = token;
    this.#timeoutSeconds = options.timeoutSeconds ?? 30;
  }

  /**
   * `isAnswer` checks a success answer's shape: a `--server` naming another HTTP server (or the
   * app's own pages, whose fallback answers any path with HTML) would otherwise surface as a
   * TypeError deep in the command.
   */
  async request<T>(method: string, path: string, body?: unknown, isAnswer: (answer: object) => boolean = () => true): Promise<{ status: number; body: T }> {
    const isBytes = body instanceof Uint8Array;
    const seconds = Math.ceil(this.#timeoutSeconds + (isBytes ? body.byteLength / UPLOAD_MIN_RATE : 0));
    const init: RequestInit = {
      method,
      headers: {
        Authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { 'Content-Type': isBytes ? 'application/octet-stream' : 'application/json' }),
      },
      // Covers the whole exchange, the answer's body included.
      signal: AbortSignal.timeout(seconds * 1000),
    };
    if (body !== undefined) init.body = isBytes ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body);
    const url = joinUrl(this.server, path);
    const timedOut = (err: unknown) => (err as Error | null)?.name === 'TimeoutError'
      ? new CliError('unreachable', `${method} ${path}: ${this.server} gave no answer within ${seconds} s`)
      : null;
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      const timeout = timedOut(err);
      if (timeout) throw timeout;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError('unreachable', `cannot reach ${this.server} (${cause?.code ?? cause?.message ?? String(err)})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const timeout = timedOut(err);
      if (timeout) throw timeout;
      // The connection dropped mid-answer (server killed, proxy reset): as unreachable as no answer at all.
      throw new CliError('unreachable', `lost the connection to ${this.server} while reading ${method} ${path} (${(err as Error).message})`);
    }
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // fall through: a non-JSON answer (e.g. a proxy's HTML error page)
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: { missing?: string[] } } } | null)?.error;
      if (error?.code) throw new CliError(error.code, error.message ?? res.statusText);
      throw new CliError(`http_${res.status}`, `${method} ${url}: ${res.status} ${res.statusText}`);
    }
    if (typeof parsed !== 'object' || parsed === null || !isAnswer(parsed)) {
      const type = res.headers.get('Content-Type')?.split(';')[0] || 'no Content-Type';
      throw new CliError(`http_${res.status}`, `${method} ${url}: ${res.status} ${type} answer is not the Updraft admin API's: is ${this.server} the update server's URL?`);
    }
    return { status: res.status, body: parsed as T };
  }

  missing(sha256s: string[]) {
    return this.request<{ missing: string[] }>('POST', PATHS.adminMissingBlobs, { sha256s }, (a) => Array.isArray((a as { missing?: unknown }).missing));
  }
}
