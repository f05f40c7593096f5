import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PATHS } from '../protocol/index.js';
import { createUpdateServer } from './app.js';
import { BlobStore } from './blob-store.js';
import { startServer } from './node.js';
import type { UpdateServerOptions } from './options.js';
import { tempStore } from './temp-store.js';

/**
 * Every route that reads a body has a cap and answers 413 `body_too_large` past it, whether the
 * size is declared (Content-Length) or only seen while streaming (chunked).
 */

const TOKEN = 'limits-token';

function setup() {
  const { dir, store } = tempStore({ prefix: 'updraft-limits-' });
  const blobs = new BlobStore(join(dir, 'blobs'));
  const app = (o: Partial<UpdateServerOptions> = {}) => createUpdateServer({ store, blobs, token: TOKEN, serve: false, clientCheckIns: false, clientReports: false, ...o });
  return { dir, store, blobs, app };
}

/** `size` bytes as a stream without a declared length (sent chunked). */
function streamOf(size: number, byte = 0x20): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(16 * 1024, size - sent);
      if (n === 0) return controller.close();
      controller.enqueue(new Uint8Array(n).fill(byte));
      sent += n;
    },
  });
}

const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('body limits', () => {
  it('check-in and reports: over bodyLimit → 413, declared or streamed', async () => {
    const app = setup().app({ bodyLimit: 1000 });
    for (const path of [PATHS.checkIn, PATHS.reports]) {
      const declared = await app.request(`/${path}`, { method: 'POST', body: 'x'.repeat(1001) });
      expect(declared.status, path).toBe(413);
      expect(await codeOf(declared)).toBe('body_too_large');
      const streamed = await app.request(`/${path}`, { method: 'POST', body: streamOf(5000), duplex: 'half' } as RequestInit);
      expect(streamed.status, path).toBe(413);
      expect(await codeOf(streamed)).toBe('body_too_large');
      // At the limit, the body is read and judged on its content instead.
      expect(await codeOf(await app.request(`/${path}`, { method: 'POST', body: 'x'.repeat(1000) }))).toBe('invalid_json');
    }
  });

  it('admin JSON routes: over adminBodyLimit → 413 before anything is parsed or stored', async () => {
    const { app: make, store } = setup();
    const app = make({ adminBodyLimit: 2048 });
    for (const [method, path] of [['POST', PATHS.adminMissingBlobs], ['POST', PATHS.adminReleases], ['PUT', PATHS.adminChannel('stable')]] as const) {
      const res = await app.request(`/${path}`, { method, headers: auth, body: `{"pad":"${'x'.repeat(3000)}"}` });
      expect(res.status, path).toBe(413);
      expect(await codeOf(res), path).toBe('body_too_large');
      const streamed = await app.request(`/${path}`, { method, headers: auth, body: streamOf(3000), duplex: 'half' } as RequestInit);
      expect(await codeOf(streamed), path).toBe('body_too_large');
    }
    expect(await store.listReleases()).toEqual([]);
  });

  it('the dashboard sign-in form is capped at 4 KiB', async () => {
    const app = setup().app();
    const res = await app.request('/v1/admin/dashboard', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${'x'.repeat(5000)}`,
    });
    expect(res.status).toBe(413);
    expect(await codeOf(res)).toBe('body_too_large');
  });

  it('part uploads over a real port: over uploadLimit → 413, declared or chunked, and nothing is kept', async () => {
    const { dir, store, blobs } = setup();
    const server = await startServer({ store, blobs, dataDir: dir, token: TOKEN, serve: false, uploadLimit: 64 * 1024 });
    try {
      const bytes = new Uint8Array(64 * 1024 + 1).fill(7);
      const sha = createHash('sha256').update(bytes).digest('hex');
      const url = new URL(PATHS.adminBlob(sha), server.url);
      const declared = await fetch(url, { method: 'PUT', headers: auth, body: bytes });
      expect(declared.status).toBe(413);
      expect(await codeOf(declared)).toBe('body_too_large');
      const chunked = await fetch(url, { method: 'PUT', headers: auth, body: streamOf(bytes.byteLength, 7), duplex: 'half' } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(await codeOf(chunked)).toBe('body_too_large');
      expect(await blobs.size(sha)).toBeNull();
      expect(await store.blobSizes([sha])).toEqual(new Map());
      // At the cap, an upload goes through.
      const fits = bytes.subarray(1);
      const ok = await fetch(new URL(PATHS.adminBlob(createHash('sha256').update(fits).digest('hex')), server.url), { method: 'PUT', headers: auth, body: fits });
      expect(ok.status).toBe(201);
      await ok.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});
