import { build, type Plugin, type Rolldown } from 'vite';
import { SW_FILE, type SwConfig } from '../protocol/index.js';

export interface SwBundleInput {
  /** Vite root, so a custom entry's relative imports resolve as in the app. */
  root: string;
  /** Absolute path of a custom entry, or null for the generated one. */
  entry: string | null;
  /** Absolute path of the SW runtime that `updraft/sw` resolves to. */
  runtime: string;
  config: SwConfig;
}

const ENTRY_ID = 'virtual:updraft-sw-entry';
const RESOLVED_ENTRY_ID = '\0' + ENTRY_ID;

/**
 * Bundles the service worker as one classic script (IIFE), in memory. Its only inputs are the
 * runtime, the entry and `SwConfig`: nothing about the release goes in, so `sw.js` stays
 * byte-identical across app releases and the browser never reinstalls the worker for one.
 */
export async function bundleServiceWorker(input: SwBundleInput): Promise<Uint8Array> {
  const output = await build({
    configFile: false,
    envDir: false,
    root: input.root,
    publicDir: false,
    logLevel: 'warn',
    mode: 'production',
    plugins: [entryPlugin()],
    resolve: { alias: [{ find: /^updraft\/sw$/, replacement: input.runtime }] },
    define: {
      // The runtime reads a global; define covers a bare reference and the `self.`/`globalThis.` forms.
      __UPDRAFT_CONFIG__: JSON.stringify(input.config),
      'self.__UPDRAFT_CONFIG__': JSON.stringify(input.config),
      'globalThis.__UPDRAFT_CONFIG__': JSON.stringify(input.config),
      // Workbox keeps its dev-only logging unless this is defined.
      'process.env.NODE_ENV': '"production"',
    },
    build: {
      write: false,
      copyPublicDir: false,
      emptyOutDir: false,
      minify: true,
      sourcemap: false,
      modulePreload: false,
      reportCompressedSize: false,
      rolldownOptions: {
        input: input.entry ?? ENTRY_ID,
        output: { format: 'iife', entryFileNames: SW_FILE, codeSplitting: false },
      },
    },
  });
  const outputs = (Array.isArray(output) ? output : [output]) as Rolldown.RolldownOutput[];
  const files = outputs.flatMap((o) => o.output);
  const chunk = files.find((f): f is Rolldown.OutputChunk => f.type === 'chunk' && f.fileName === SW_FILE);
  if (!chunk) throw new Error('[updraft] the service worker build produced no sw.js');
  const extra = files.filter((f) => f !== chunk).map((f) => f.fileName);
  if (extra.length > 0) {
    throw new Error(`[updraft] the service worker must bundle to a single script, but it also emitted ${extra.join(', ')}`);
  }
  return new TextEncoder().encode(chunk.code);
}

function entryPlugin(): Plugin {
  return {
    name: 'updraft:sw-entry',
    resolveId(id) {
      return id === ENTRY_ID ? RESOLVED_ENTRY_ID : undefined;
    },
    load(id) {
      return id === RESOLVED_ENTRY_ID ? `import { startUpdraft } from 'updraft/sw';\nstartUpdraft();\n` : undefined;
    },
  };
}
