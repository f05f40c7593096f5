import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a test server that counts the bytes the server sends to the browser:
 * bytes on the wire (status lines, headers and bodies, compressed where they are compressed), the
 * same measure for every system benchmarked. Listens on 127.0.0.1 only.
 */
export class CountingProxy {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #down = 0;
  #lastData = Date.now();
  port = 0;

  constructor(private readonly target: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Bytes sent to the browser since the last reset. */
  get bytes(): number {
    return this.#down;
  }

  /** Resolves once the server sent nothing for `ms` (in-flight reports, late check-ins are done). */
  async quiet(ms = 500): Promise<void> {
    this.#lastData = Math.max(this.#lastData, Date.now() - ms / 2);
    while (Date.now() - this.#lastData < ms) await new Promise((r) => setTimeout(r, 50));
  }

  reset(): void {
    this.#down = 0;
  }

  async start(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.on('data', (chunk: Buffer) => {
        this.#down += chunk.byteLength;
        this.#lastData = Date.now();
        if (process.env.BENCH_DEBUG) console.log(`  ↓ ${chunk.byteLength} ${chunk.subarray(0, 600).toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n/g, ' | ')}`);
      });
      if (process.env.BENCH_DEBUG) client.on('data', (chunk: Buffer) => console.log(`  ↑ ${chunk.toString('latin1').split('\r\n')[0]}`));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
