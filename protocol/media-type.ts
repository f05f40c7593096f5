/**
 * The Content-Type an asset is answered with, by the server and by the worker alike: the
 * manifest's `type` (the plugin's, from the file name: `text/html`, no charset), with
 * `charset=utf-8` added to text a browser would otherwise decode by guessing. Without it Chromium
 * decodes a page that has no `<meta charset>` (and a `.txt` opened as a page) as windows-1252, so
 * the same URL showed `café` online and `cafÃ©` from the worker. Builds are UTF-8.
 */
export function servedType(type: string): string {
  return /^(text\/|application\/(javascript|json))/.test(type) && !/charset=/i.test(type) ? `${type}; charset=utf-8` : type;
}
