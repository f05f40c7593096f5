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
});
