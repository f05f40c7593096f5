export interface RegisterOptions {
  /** URL of the service worker script the Vite plugin emits. @default "/sw.js" */
  swUrl?: string;
  /** Registration scope. @default the browser's default: the directory of `swUrl` */
  scope?: string;
  /**
   * What to do when the SW reports a release `activated` with the `immediate` policy:
   * `reload` reloads this page so it runs the new release, `none` leaves it to your `activated` handler.
   * @default "reload"
   */
  onActivatedImmediate?: 'reload' | 'none';
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
  return { swUrl: options.swUrl ?? '/sw.js', scope: options.scope, onActivatedImmediate };
}
