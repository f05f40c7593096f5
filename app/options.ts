/**
 * Every field may be `undefined` (its default), so `exactOptionalPropertyTypes` apps can pass
 * `{ scope: import.meta.env.VITE_SCOPE }` as is.
 */
export interface RegisterOptions {
  /**
   * URL of the service worker script the Vite plugin emits.
   * @default Vite's `base` + `"sw.js"` when `base` is a path (`/app/` → `/app/sw.js`), else `"/sw.js"`
   */
  swUrl?: string | undefined;
  /** Registration scope. @default the browser's default: the directory of `swUrl` */
  scope?: string | undefined;
  /**
   * What to do when the SW reports a release `activated` with the `immediate` policy:
   * `reload` reloads this page so it runs the new release, `none` leaves it to your `activated` handler.
   * @default "reload"
   */
  onActivatedImmediate?: 'reload' | 'none' | undefined;
}

export interface ResolvedRegisterOptions {
  swUrl: string;
  scope: string | undefined;
  onActivatedImmediate: 'reload' | 'none';
}

export function resolveRegisterOptions(options: RegisterOptions = {}): ResolvedRegisterOptions {
  const onActivatedImmediate = options.onActivatedImmediate ?? 'reload';
  if (onActivatedImmediate !== 'reload' && onActivatedImmediate !== 'none') {
    throw new TypeError(`updraft: onActivatedImmediate must be "reload" or "none", got ${JSON.stringify(onActivatedImmediate)}`);
  }
  return { swUrl: options.swUrl ?? defaultSwUrl(), scope: options.scope, onActivatedImmediate };
}

/**
 * Where the plugin's `sw.js` is: beside the build's `index.html`, at Vite's `base`, which Vite
 * writes into every module it bundles (dependencies included) as `import.meta.env.BASE_URL`.
 * A relative base (`./`) would resolve against each page's own URL and a full URL (a CDN) names
 * another origin, where no worker can be registered: both keep the origin's root.
 */
function defaultSwUrl(): string {
  const base = (import.meta as { env?: { BASE_URL?: unknown } }).env?.BASE_URL;
  return typeof base === 'string' && base.startsWith('/') && !base.startsWith('//') ? `${base.endsWith('/') ? base : base + '/'}sw.js` : '/sw.js';
}
