import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPlanSigner, loadSigningKey, publishDirectory, startServer, type PublishOptions, type PublishResult, type RunningServer, type UpdateServerOptions } from '../../server/index.js';

export interface TestServer {
  /** `http://127.0.0.1:PORT/`: the app, the update API and the admin API. */
  url: string;
  token: string;
  dataDir: string;
  /** `updraft publish <dist>` against this server; resolves once the server has computed the release's deltas. */
  publish(dist: string, options?: PublishOptions): Promise<PublishResult>;
  close(): Promise<void>;
}

export type TestServerOptions = Partial<Omit<UpdateServerOptions, 'store' | 'blobs'>> & {
  /** PEM private keys to sign plans with (`updraft keys generate` writes one), when the build has `publicKeys`. */
  signingKeys?: string[];
};

/** Starts an Updraft server on 127.0.0.1 with a fresh SQLite store in a temp dir (removed on close). */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { signingKeys, ...rest } = options;
  const signer = signingKeys ? createPlanSigner(await Promise.all(signingKeys.map((pem) => loadSigningKey(pem)))) : rest.signer;
  const dataDir = mkdtempSync(join(tmpdir(), 'updraft-test-'));
  const token = options.token ?? 'updraft-test-token';
  let server: RunningServer;
  try {
    server = await startServer({ ...rest, ...(signer ? { signer } : {}), token, dataDir });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: server.url,
    token,
    dataDir,
    publish: async (dist, o = {}) => {
      const published = await publishDirectory(dist, { channel: 'stable', ...o, server: server.url, token });
      // The server answers before computing the release's deltas: a test's next update then
      // always gets them, instead of whichever happened to be stored by its check-in.
      await server.deltas?.idle();
      return published;
    },
    close: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
