/** How the worker answers what a page asks for, in Chromium: types, encodings, Range, lost parts, offline. */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, expect } from './kit/index.js';
import { Harness, TOKEN } from './support/harness.js';
import { buildDir } from './support/builds.js';
import { computeReleaseId, MANIFEST_FILE, type ReleaseManifest } from '../protocol/index.js';
import { publishDirectory } from '../server/index.js';
import { describeAsset } from '../plugin/assets.js';

/** Demo 1.0.0 plus `extra` files (path → content), described as the plugin would, published to stable. */
async function publishWith(h: Harness, extra: Record<string, Uint8Array | string>): Promise<ReleaseManifest> {
  const dir = join(h.dataDir, 'routing-release');
  cpSync(buildDir('1.0.0'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
  for (const [path, content] of Object.entries(extra)) {
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
    manifest.assets.push(describeAsset(path, bytes));
  }
  manifest.assets.sort((a, b) => (a.path < b.path ? -1 : 1));
  manifest.id = await computeReleaseId(manifest.assets, manifest.entry, manifest.sw);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  await publishDirectory(dir, { server: h.url, token: TOKEN, channel: 'stable' });
  return manifest;
}

const TEXT = 'café – naïve';

test('a page without <meta charset> reads the same from the worker as from the server: UTF-8, not windows-1252', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const rel = await publishWith(h, { 'docs/plain.html': `<!doctype html><title>t</title><p id="t">${TEXT}</p>`, 'notes.txt': TEXT });
    await page.goto(h.url);
    await updraft.waitForRelease(rel.id);
    const fromServer = (await fetch(new URL('docs/plain.html', h.url))).headers.get('content-type');
    for (const path of ['docs/plain.html', 'notes.txt']) {
      const res = await page.goto(h.url + path);
      expect(res?.fromServiceWorker(), path).toBe(true);
      expect(await page.evaluate(() => [document.characterSet, document.body.textContent?.trim()]), path).toEqual(['UTF-8', TEXT]);
      expect(res?.headers()['content-type'], path).toBe(path.endsWith('.html') ? fromServer : 'text/plain; charset=utf-8');
    }
  } finally {
    await h.close();
  }
});
