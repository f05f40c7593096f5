import { resolve } from 'node:path';
import { build, type Rolldown } from 'vite';

let bundle: Promise<string> | null = null;

/**
 * `updraft/client` as one classic script that sets `window.UpdraftClient` (its exports), built from
 * app/index.ts with Vite, once per worker. For specs that act as a second component of an app (a
 * second `registerUpdraft()`), or as an app on a page the demo build does not make (an insecure
 * origin, a sandboxed iframe).
 */
export function clientBundle(): Promise<string> {
  bundle ??= (async () => {
    const out = (await build({
      configFile: false,
      logLevel: 'warn',
      build: {
        write: false,
        minify: false,
        lib: { entry: resolve(import.meta.dirname, '../../app/index.ts'), formats: ['iife'], name: 'UpdraftClient' },
      },
    })) as Rolldown.RolldownOutput | Rolldown.RolldownOutput[];
    const chunk = (Array.isArray(out) ? out[0]! : out).output[0];
    return chunk.code;
  })();
  return bundle;
}
