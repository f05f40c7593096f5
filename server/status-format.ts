import type { ChannelStatus, ReleaseLabel, StatusResponse } from '../protocol/index.js';
import { fallbackRelease, rolledBackFrom } from './planner.js';

export interface FormatStatusOptions {
  /** Also list every published release and the latest reports. @default false */
  verbose?: boolean;
}

type Row = string[];

/** Aligned columns; the `right` ones (numbers) are right-aligned. */
function table(header: Row, rows: Row[], right: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: Row) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `12.3 kB`, decimal units as Vite prints them. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} kB`;
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  return `${(n / 1_000_000_000).toFixed(2)} GB`;
}

/** `<id> (<version> #<seq>)`: a release as `status` and `rollout` name it. */
export const releaseLabel = (r: ReleaseLabel) => `${r.id} (${r.version} #${r.seq})`;

const percent = (part: number, whole: number) => (whole === 0 ? '-' : `${Math.round((part / whole) * 100)}%`);

/** A rate (0-1) to one decimal, `33.3%`: the failure rate as `status` and the dashboard both print it. */
export const ratePercent = (x: number) => `${Math.round(x * 1000) / 10}%`;

/**
 * What the automatic pause counts for a channel's target, in words: `1 of 3 clients since …`, or
 * `no client reported on it …`. The same figure in `status` and the dashboard's headline.
 */
export function healthText(h: { clients: number; failed: number; since: number }): string {
  const since = h.since > 0 ? ` since ${isoTime(h.since)}` : '';
  if (h.clients === 0) return `no client reported on it${since}`;
  return `${h.failed.toLocaleString('en-US')} of ${h.clients.toLocaleString('en-US')} client${h.clients === 1 ? '' : 's'} failed${since}`;
}

/**
 * `updraft status` as text: per channel, a header with its rollout and a table of the releases
 * its clients run (from their latest check-in) with the reports about each, then the reasons of
 * failures. Clients are grouped by channel name only, so pass one app's status at a time when
 * several apps share channel names (the CLI does).
 */
export function formatStatus(s: StatusResponse, o: FormatStatusOptions = {}): string {
  const release = new Map(s.releases.map((r) => [r.id, r]));
  const version = (id: string) => {
    const r = release.get(id);
    return r ? `${r.version} #${r.seq}` : '?';
  };
  const label = (id: string) => {
    const r = release.get(id);
    return r ? releaseLabel(r) : `${id} (?)`;
  };
  const lines: string[] = [];

  if (s.channels.length === 0) {
    const n = s.releases.length;
    lines.push(`no channels yet (${n} release${n === 1 ? '' : 's'} published): \`updraft publish <dist> --channel stable\` creates one`);
  }
  for (const ch of s.channels) {
    if (lines.length) lines.push('');
    lines.push(...channelBlock(s, ch, label, version));
  }
  // Only while there are some: once none are pending, every delta is stored (or given up).
  const pending = s.deltas?.pending ?? 0;
  if (pending > 0) lines.push('', `deltas: ${pending} pending (computed after publish; until then those parts are fetched whole)`);
  const elsewhere = s.deltas?.elsewhere ?? 0;
  if (elsewhere > 0) {
    lines.push(...(pending > 0 ? [] : ['']), `deltas: those of ${elsewhere} release${elsewhere === 1 ? '' : 's'} pending on another server sharing the blobs directory (the one that took the publish; or one that stopped: a start or publish here takes them up)`);
  }

  if (o.verbose) {
    lines.push('', `releases (${s.releases.length}):`);
    const rows = s.releases.map((r) => [r.id, r.app, `${r.version} #${r.seq}`, r.createdAt, String(r.parts), formatBytes(r.bytes)]);
    lines.push(...table(['RELEASE', 'APP', 'VERSION', 'BUILT', 'PARTS', 'SIZE'], rows, new Set([4, 5])).map((l) => `  ${l}`));
    lines.push('', `latest reports (${s.recentReports.length}):`);
    const reports = s.recentReports.map((r) => [isoTime(r.at), r.client, r.release, r.event, r.code ?? '']);
    if (reports.length) lines.push(...table(['AT (CLIENT CLOCK)', 'CLIENT', 'RELEASE', 'EVENT', 'CODE'], reports, new Set()).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

function channelBlock(s: StatusResponse, ch: ChannelStatus, label: (id: string) => string, version: (id: string) => string): string[] {
  const lines = [`${ch.app}/${ch.name}  →  ${label(ch.release)}  ${ch.percent}%  ${ch.activation}${ch.paused ? '  PAUSED' : ''}`];
  // As `rollout` said it when it happened, and the dashboard's badge: the same test (`rolledBackFrom`) as the JSON's `rolledBack`.
  const byId = new Map(s.releases.map((r) => [r.id, r]));
  const back = rolledBackFrom(ch, byId);
  if (back) lines.push(`  rolled back from ${label(back)} to ${label(ch.release)}`);
  // What clients outside the rollout get: previous, or the minimum when that is newer; none after a roll back.
  const fallback = fallbackRelease(ch, byId);
  const raised = fallback !== ch.previous ? ' (the minimum)' : '';
  if (ch.paused) {
    lines.push(`  paused${ch.pausedReason ? `: ${ch.pausedReason}` : ''}; no client is offered ${ch.release}${fallback ? `, new clients get ${label(fallback)}${raised}` : ''}`);
  } else if (ch.percent < 100) {
    // Rounded: 100 - 57.1 is 42.900000000000006 in floating point.
    const others = `  the other ${Math.round((100 - ch.percent) * 1000) / 1000}%`;
    if (fallback) lines.push(`${others} ${raised ? 'get' : 'stay on'} ${label(fallback)}${raised}`);
    // No fallback beside a previous release: the channel was rolled back from it (`fallbackRelease`).
    else if (ch.previous) lines.push(`${others} stay where they are (rolled back from ${label(ch.previous)}: offered to nobody)`);
  }
  if (ch.minimum) lines.push(`  minimum ${label(ch.minimum)}: clients on an older release update immediately`);

  const clients = s.clients.filter((c) => c.channel === ch.name);
  const total = clients.reduce((n, c) => n + c.count, 0);
  const count = (id: string | null) => clients.filter((c) => c.release === id).reduce((n, c) => n + c.count, 0);
  const reports = (id: string, event: string) =>
    s.reportCounts.filter((r) => r.release === id && r.event === event).reduce((n, r) => n + r.count, 0);

  // The channel's two releases always get a row; any other release only while clients still run it.
  const ids = [ch.release, ...(ch.previous ? [ch.previous] : [])];
  for (const c of clients) if (c.release !== null && !ids.includes(c.release)) ids.push(c.release);
  const rows = ids.map((id) => {
    const role = id === ch.release ? 'current' : id === back ? 'rolled back from' : id === ch.previous ? 'previous' : 'older';
    const n = count(id);
    return [id, version(id), role, String(n), percent(n, total), String(reports(id, 'downloaded')), String(reports(id, 'activated')), String(reports(id, 'failed'))];
  });
  const installing = count(null);
  if (installing > 0) rows.push(['(none yet)', '', 'installing', String(installing), percent(installing, total), '', '', '']);
  const header = ['RELEASE', 'VERSION', 'ROLE', 'CLIENTS', 'SHARE', 'DOWNLOADED', 'ACTIVATED', 'FAILED'];
  lines.push(...table(header, rows, new Set([3, 4, 5, 6, 7])).map((l) => `  ${l}`));
  lines.push(`  ${total} client${total === 1 ? '' : 's'} checked in`);
  // The rate the automatic pause acts on (distinct clients, device-side codes left out), not the
  // FAILED column's reports: absent from servers before it.
  if (ch.health) {
    const rate = ch.health.clients > 0 ? ratePercent(ch.health.failed / ch.health.clients) : '-';
    const how = ch.health.clients > 0 ? ' (as the automatic pause counts: distinct clients; expired plans, full disks, newer plans and withdrawals are not failures of the release)' : '';
    lines.push(`  failure rate of ${ch.release}: ${rate}, ${healthText(ch.health)}${how}`);
  }

  for (const id of ids) {
    const failures = s.reportCounts.filter((r) => r.release === id && (r.event === 'failed' || r.event === 'boot-failed'));
    if (failures.length === 0) continue;
    const reasons = failures.map((r) => `${r.code ?? 'unknown'} ×${r.count}`).join(', ');
    lines.push(`  failures on ${id}: ${reasons}`);
  }
  return lines;
}

/**
 * `at` as ISO 8601, or as the number it is when no `Date` can hold it: reports stored before their
 * schema bounded `at` must not break the status or the dashboard that lists them.
 */
export function isoTime(at: number): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toISOString();
}
