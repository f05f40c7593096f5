import { describe, expect, it } from 'vitest';
import { addBad, BAD_RELEASES_MAX, bootPhase, isBad, judgeReady, shouldWatch, startClock } from './readiness.js';
import type { BootWatch } from './store.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';
const unstarted: BootWatch = { release: B, previous: A, deadline: null };
const running: BootWatch = { release: B, previous: A, deadline: 1000 };

describe('shouldWatch', () => {
  it.each([
    [30_000, true, true],
    [30_000, false, false], // the app never called ready(): watching would roll back every update
    [0, true, false], // off
  ])('bootTimeoutMs %j, readySeen %j → %j', (ms, seen, expected) => {
    expect(shouldWatch(ms, seen)).toBe(expected);
  });
});

describe('bootPhase', () => {
  it.each([
    ['no watch', null, B, 0, 'none'],
    ['watch on a release no longer active', running, C, 5000, 'none'],
    ['activated, no page served yet, days later', unstarted, B, 9e12, 'unstarted'],
    ['clock running', running, B, 999, 'running'],
    ['at the deadline', running, B, 1000, 'expired'],
    ['past it', running, B, 5000, 'expired'],
  ] as const)('%s → %s', (_, watch, active, now, expected) => {
    expect(bootPhase(watch, active, now)).toBe(expected);
  });
});

describe('startClock', () => {
  it.each([
    ['first navigation by the watched release', unstarted, B, { ...unstarted, deadline: 130 }],
    ['a navigation by the old release', unstarted, A, null],
    ['already running: the first navigation set it', running, B, null],
    ['no watch', null, B, null],
  ] as const)('%s', (_, watch, served, expected) => {
    expect(startClock(watch, served, 100, 30)).toEqual(expected);
  });
});

describe('judgeReady', () => {
  it.each([
    ['a page the watched release served', running, B, false, 'confirmed'],
    ['before its clock started', unstarted, B, false, 'confirmed'],
    ['a page pinned to the watched release whose document the network answered', running, B, true, 'network'],
    ['the same before the clock started', unstarted, B, true, 'network'],
    ['a page still on the old release', running, A, false, 'other-release'],
    ['a page on the old release the network answered', running, A, true, 'other-release'],
    ['a page the SW never served (no pin)', running, null, false, 'other-release'],
    ['nothing watched', null, B, false, 'none-pending'],
    ['nothing watched, the network answered', null, B, true, 'none-pending'],
  ] as const)('%s → %s', (_, watch, pinned, fromNetwork, expected) => {
    expect(judgeReady(watch, pinned, fromNetwork)).toBe(expected);
  });
});

describe('bad releases', () => {
  it('adds, moves a repeat to the end, and keeps the newest', () => {
    let bad = addBad(undefined, A, 1);
    bad = addBad(bad, B, 2);
    bad = addBad(bad, A, 3);
    expect(bad).toEqual([{ release: B, at: 2 }, { release: A, at: 3 }]);
    expect(isBad(bad, A)).toBe(true);
    expect(isBad(bad, C)).toBe(false);
    expect(isBad(undefined, A)).toBe(false);
    for (let i = 0; i < BAD_RELEASES_MAX + 5; i++) bad = addBad(bad, i.toString(16).padStart(16, '0'), 10 + i);
    expect(bad).toHaveLength(BAD_RELEASES_MAX);
    expect(isBad(bad, A)).toBe(false);
  });
});
