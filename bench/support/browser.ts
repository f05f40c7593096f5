/** The benchmarks' Chromium: the same launch flags as the e2e tests. */
import { chromium, type Browser } from '@playwright/test';
import { chromiumLaunchOptions } from '../../e2e/kit/browser.js';

export function launchChromium(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions({ headless: true }));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `median [min–max]` in ms, for the detail lines. */
export function spread(xs: number[]): string {
  return `${median(xs).toFixed(1)} ms [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;
}
