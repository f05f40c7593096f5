/** How the worker answers what a page asks for, in Chromium: types, encodings, Range, lost parts, offline. */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium } from '@playwright/test';
import { test, expect, UpdraftDriver, chromiumLaunchOptions } from './kit/index.js';
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
    // notes.txt's part as a worker before this fix stored it: the manifest's type, no charset.
    const notes = rel.assets.find((a) => a.path === 'notes.txt')!;
    const storedType = () =>
      page.evaluate(async (sha) => {
        const cache = await caches.open('updraft-parts');
        const key = (await cache.keys()).find((r) => r.url.endsWith(sha))!;
        return (await cache.match(key))!.headers.get('content-type');
      }, notes.sha256);
    await page.evaluate(async ({ sha, type }) => {
      const cache = await caches.open('updraft-parts');
      const key = (await cache.keys()).find((r) => r.url.endsWith(sha))!;
      const bytes = await (await cache.match(key))!.arrayBuffer();
      await cache.put(key, new Response(bytes, { headers: { 'content-type': type, 'x-updraft-sha256': sha } }));
    }, { sha: notes.sha256, type: notes.type });
    expect(await storedType()).toBe('text/plain');
    for (const path of ['docs/plain.html', 'notes.txt']) {
      const res = await page.goto(h.url + path);
      expect(res?.fromServiceWorker(), path).toBe(true);
      expect(await page.evaluate(() => [document.characterSet, document.body.textContent?.trim()]), path).toEqual(['UTF-8', TEXT]);
      expect(res?.headers()['content-type'], path).toBe(path.endsWith('.html') ? fromServer : 'text/plain; charset=utf-8');
    }
    // Stored again with its charset, so it is answered straight from the cache from now on.
    await expect.poll(storedType).toBe('text/plain; charset=utf-8');
  } finally {
    await h.close();
  }
});

test('offline: a query string, an encoded non-ASCII name and a Range are answered from the release; a lost part is refetched by hash online and fails at once offline', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const media = new Uint8Array(100_000).map((_, i) => i % 251);
    const rel = await publishWith(h, { 'files/naïve file.txt': 'hello naïve', 'media/clip.bin': media });
    await page.goto(h.url);
    await updraft.waitForRelease(rel.id);
    const clip = rel.assets.find((a) => a.path === 'media/clip.bin')!;
    const script = await page.evaluate(() => [...document.scripts].map((s) => s.src).find((s) => s.includes('/assets/'))!);
    const ask = (url: string, init?: { method?: string; headers?: Record<string, string> }) =>
      page.evaluate(async ({ url, init }) => {
        const t0 = performance.now();
        try {
          const r = await fetch(url, init);
          const body = new Uint8Array(await r.arrayBuffer());
          return { status: r.status, length: r.headers.get('content-length'), range: r.headers.get('content-range'), type: r.headers.get('content-type'), bytes: body.byteLength, first: body[0] ?? null, ms: performance.now() - t0 };
        } catch (e) {
          return { error: String(e), ms: performance.now() - t0 };
        }
      }, { url, init });
    const dropPart = (sha: string) =>
      page.evaluate(async (sha) => {
        const cache = await caches.open('updraft-parts');
        const key = (await cache.keys()).find((r) => r.url.endsWith(sha));
        return key ? cache.delete(key) : false;
      }, sha);

    // A part deleted by hand (DevTools, Clear storage) while online: refetched by hash, once.
    expect(await dropPart(clip.sha256)).toBe(true);
    h.traffic.clear();
    expect(await ask('/media/clip.bin', { headers: { range: 'bytes=0-9' } })).toMatchObject({ status: 206, range: 'bytes 0-9/100000', length: '10', bytes: 10 });
    expect(h.traffic.fromBrowser().map((r) => r.path)).toEqual([`/v1/blobs/${clip.sha256}`]);

    await h.stopAll();
    expect(await ask(script + '?v=1')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await ask('/files/na%C3%AFve%20file.txt')).toMatchObject({ status: 200, bytes: 'hello naïve'.length + 1, length: String('hello naïve'.length + 1) });
    // A seek into a media file: Chromium's `<video>` asks `bytes=N-`.
    expect(await ask('/media/clip.bin', { headers: { range: 'bytes=99990-' } })).toMatchObject({ status: 206, range: 'bytes 99990-99999/100000', length: '10', bytes: 10, first: 99990 % 251 });
    expect(await ask('/media/clip.bin', { headers: { range: 'bytes=100000-' } })).toMatchObject({ status: 416, range: 'bytes */100000' });

    // Lost again, offline: a network error the page sees at once, not a request left hanging.
    expect(await dropPart(clip.sha256)).toBe(true);
    const lost = await ask('/media/clip.bin', { headers: { range: 'bytes=0-' } });
    expect(lost).toMatchObject({ error: expect.stringContaining('Failed to fetch') });
    expect(lost.ms).toBeLessThan(5_000);

    // A client-side route opens the entry offline as online; a last segment with a dot names a
    // file, which the release lacks (README, sharp edges): 404 online, a network error offline.
    expect((await page.goto(h.url + 'settings/profile/'))?.fromServiceWorker()).toBe(true);
    await expect(page.locator('#version')).toHaveText('1.0.0');
    await expect(page.goto(h.url + 'users/john.doe')).rejects.toThrow('ERR_FAILED');
  } finally {
    await h.close();
  }
});

/** A WAV file: `seconds` of silence, 8 kHz mono 8-bit PCM (44-byte header). */
function wav(seconds: number): Uint8Array {
  const data = 8000 * seconds;
  const b = Buffer.alloc(44 + data, 128);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(8000, 28);
  b.writeUInt16LE(1, 32);
  b.writeUInt16LE(8, 34);
  b.write('data', 36);
  b.writeUInt32LE(data, 40);
  return new Uint8Array(b);
}

test('offline, an <audio> element plays a release file and seeks in it', async ({ page, updraft }) => {
  const h = await Harness.start();
  try {
    const rel = await publishWith(h, { 'media/tone.wav': wav(30) });
    await page.goto(h.url);
    await updraft.waitForRelease(rel.id);
    await h.stopAll();
    const played = await page.evaluate(async () => {
      const audio = new Audio('/media/tone.wav');
      audio.preload = 'auto';
      const once = (name: string) => new Promise<void>((resolve, reject) => {
        audio.addEventListener(name, () => resolve(), { once: true });
        audio.addEventListener('error', () => reject(new Error(`media error ${audio.error?.code}: ${audio.error?.message}`)), { once: true });
      });
      await once('loadedmetadata');
      const duration = audio.duration;
      const seeked = once('seeked');
      audio.currentTime = 25;
      await seeked;
      return { duration, at: audio.currentTime };
    });
    expect(played.duration).toBeCloseTo(30, 0);
    expect(played.at).toBeCloseTo(25, 0);
  } finally {
    await h.close();
  }
});

test('a page restored from the back-forward cache after an activation still gets its own release', async () => {
  // Playwright turns the back-forward cache off by default (`--disable-back-forward-cache`): this test needs it.
  const browser = await chromium.launch({ ...chromiumLaunchOptions(), ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  const h = await Harness.start();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const v1 = await h.publish('1.0.0');
    await page.goto(h.url);
    await new UpdraftDriver(page).waitForRelease(v1.id);
    await page.reload();
    await page.evaluate(() => void ((window as unknown as { stayed: boolean }).stayed = true));
    // The user follows a link to another site: the page goes into the back-forward cache, where
    // clients.matchAll lists it no more.
    await page.goto(h.cdn!.url + 'elsewhere');
    const tabB = await context.newPage();
    await tabB.goto(h.url);
    const updraft = new UpdraftDriver(tabB);
    await updraft.waitForRelease(v1.id);
    // Pins younger than a minute are never collected (gc.ts PIN_GRACE_MS): age them as a minute would.
    await tabB.evaluate(() => new Promise<void>((resolve, reject) => {
      const open = indexedDB.open('updraft');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction('pins', 'readwrite');
        const pins = tx.objectStore('pins');
        pins.getAll().onsuccess = (e) => {
          for (const p of (e.target as IDBRequest<{ createdAt: number }[]>).result) pins.put({ ...p, createdAt: p.createdAt - 120_000 });
        };
        tx.oncomplete = () => {
          open.result.close();
          resolve();
        };
      };
    }));
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id); // its activation collects garbage
    await page.goBack({ waitUntil: 'commit' }); // a restore fires no load event
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
    // index.html is at the same path in both releases: the restored page must get v1's.
    const index = await page.evaluate(async () => (await fetch('/index.html')).text());
    expect(index).toBe(readFileSync(join(buildDir('1.0.0'), 'index.html'), 'utf8'));
  } finally {
    await h.close();
    await browser.close();
  }
});
