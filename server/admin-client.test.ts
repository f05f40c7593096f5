import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AdminClient, CliError } from './admin-client.js';

describe('AdminClient', () => {
  it('a connection lost mid-answer (the server was killed) is `unreachable`, like no answer at all', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      res.write('{"missing":[');
      setImmediate(() => res.socket?.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = new AdminClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, 't');
      const err = await client.missing([]).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).code).toBe('unreachable');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a server that accepts and never answers is `unreachable` after the timeout; a part upload gets more time for its size', async () => {
    const server = createServer(() => {}); // reads the request, never answers
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = new AdminClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, 't', { timeoutSeconds: 0.5 });
      const get = await client.request('GET', 'v1/admin/status').then(() => null, (e: unknown) => e);
      expect(get).toBeInstanceOf(CliError);
      expect(get).toMatchObject({ code: 'unreachable', message: expect.stringMatching(/^GET v1\/admin\/status: http:\/\/127\.0\.0\.1:\d+\/ gave no answer within 1 s$/) });
      // 256 KiB: one more second.
      const put = await client.request('PUT', 'v1/admin/blobs/x', new Uint8Array(256 * 1024)).then(() => null, (e: unknown) => e);
      expect(put).toMatchObject({ code: 'unreachable', message: expect.stringMatching(/gave no answer within 2 s$/) });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
