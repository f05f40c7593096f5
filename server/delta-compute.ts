/**
 * Fossil delta creation within a time budget, off the thread that serves requests. `createDelta`
 * is synchronous and its cost depends on how alike the two files are, not only on their size: a
 * one-line change in 8 MiB takes 0.1 s, but a 2 MiB file rewritten (a major upgrade of a vendored
 * library) takes ~6 s and an 8 MiB one a minute, during which a server computing it in-thread
 * answers nothing. Such a delta would not be worth offering anyway (`offerDelta`).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createDelta } from 'fossil-delta';

/**
 * Pairs up to this size are computed in-thread: their worst case (~50 ms at 128 KiB of dissimilar
 * text) is about what starting a worker costs, and most parts are this small.
 */
export const IN_THREAD_BYTES = 128 * 1024;

/** The codec's module URL for the worker to import; resolved on first use, not when the server loads. */
let fossil: string | undefined;

// Plain JavaScript run as the worker (`eval`): the same from TypeScript sources (tests, tsx) and dist/.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.fossil).then(({ createDelta }) => {
  const delta = createDelta(workerData.source, workerData.target);
  parentPort.postMessage(delta, [delta.buffer]);
});`;

/**
 * The delta `source → target`, or null when computing it took more than `budgetMs` or `signal`
 * aborted it (the work is stopped either way: a server closing does not wait out a budget).
 */
export async function computeDelta(source: Uint8Array, target: Uint8Array, budgetMs: number, signal?: AbortSignal): Promise<Uint8Array | null> {
  if (signal?.aborted) return null;
  if (source.byteLength <= IN_THREAD_BYTES && target.byteLength <= IN_THREAD_BYTES) return createDelta(source, target);
  fossil ??= pathToFileURL(createRequire(import.meta.url).resolve('fossil-delta')).href;
  const worker = new Worker(WORKER, { eval: true, workerData: { fossil, source, target } });
  let abort = () => {};
  try {
    return await new Promise<Uint8Array | null>((resolve, reject) => {
      const timer = setTimeout(() => resolve(null), budgetMs);
      abort = () => {
        clearTimeout(timer);
        resolve(null);
      };
      signal?.addEventListener('abort', abort, { once: true });
      worker.once('message', (delta: Uint8Array) => {
        clearTimeout(timer);
        resolve(delta);
      });
      worker.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`delta worker exited with code ${code}`));
      });
    });
  } finally {
    // The signal outlives this pair (one per queue): a listener left on it would pile up.
    signal?.removeEventListener('abort', abort);
    // Stops a computation past its budget where it is (V8 interrupts running code).
    await worker.terminate();
  }
}
