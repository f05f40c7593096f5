import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { ChannelState, ChannelStatus, StatusResponse } from '../protocol/index.js';
import { bearerToken } from './admin-auth.js';
import type { Principal } from './admin-token.js';
import { jsonBodyLimit } from './json-body-limit.js';
import { healthText, isoTime, ratePercent } from './status-format.js';
import type { ResolvedOptions } from './options.js';
import { fallbackRelease, rolledBackFrom } from './planner.js';
import { channelStatus } from './channel-status.js';
import { releaseSummary } from './release-summary.js';
import type { AutoPauseOptions } from './auto-pause.js';

/**
 * `GET /v1/admin/dashboard`: an HTML page with one card per channel: rollout progress, clients per
 * release over time, download/activation/failure counts, failure reasons, paused state. Charts are
 * server-rendered inline SVG; the page loads nothing else and runs no script (its CSP says so).
 *
 * It needs a token with the `read` scope. A browser cannot send a bearer header on navigation, so
 * the page also accepts the token once, as `?token=` or from its login form, answers with a
 * cookie (HttpOnly, SameSite=Strict, scoped to the page's path) holding the token's id and an HMAC
 * of its digest — never the token itself — and redirects to the bare URL so the token does not
 * stay in the address bar or history. Revoking the token ends its sessions. The bearer header
 * works too (curl, tests).
 *
 * Mount it before `adminRoutes`: their bearer guard covers `/v1/admin/*`, and the dashboard answers
 * first so a cookie-only navigation reaches it.
 */

export const DASHBOARD_PATH = 'v1/admin/dashboard';
export const DASHBOARD_COOKIE = 'updraft_dashboard';
/**
 * Activation reports read per app for the over-time charts (newest first); older ones drop out of
 * them, and the charts say so. 20,000 reports of every kind per app drew 9,334 of 100,000 clients.
 */
export const SERIES_REPORTS = 250_000;
const BUCKETS = 24;
const COOKIE_MAX_AGE = 12 * 3600;

/** The sign-in form's body limit, bytes. */
const FORM_LIMIT = 4096;

// ---------------------------------------------------------------------------------------------
// Model

export interface SeriesPoint { at: number; counts: Record<string, number> }

export interface ChannelView {
  app: string;
  name: string;
  release: string;
  previous: string | null;
  /** What clients outside the rollout get: `previous`, or the minimum when that is newer; none after a roll back (`fallbackRelease`). */
  fallback: string | null;
  /** `previous` when the channel was pointed back at an older release from it (a roll back), else null. */
  rolledBackFrom: string | null;
  percent: number;
  activation: ChannelState['activation'];
  updatedAt: number;
  /** `paused` from the channel state when the store knows it, else undefined. */
  paused: boolean | undefined;
  pausedReason: string | null;
  /** Clients of this channel per active release, from their latest check-in (`null` = none yet). */
  clients: { release: string | null; count: number }[];
  totalClients: number;
  onTarget: number;
  /** Per release of the channel's app: report counts. */
  releases: { id: string; label: string; downloaded: number; activated: number; failed: number; bootFailed: number; rejected: number; dropped: number }[];
  /**
   * The headline: the target's failure rate as the automatic pause counts it (`health.failed /
   * health.clients`: distinct clients since the channel's `sampleSince`, device-side codes left
   * out), as `updraft status` prints it; null without a reporting client, or from a status without it.
   */
  failureRate: number | null;
  health: ChannelStatus['health'] | null;
  /** Report events on the target: failed + boot-failed, of downloaded + failed (every code). Not what the pause acts on. */
  failures: number;
  attempts: number;
  /** Failure reasons on the target release (failed and boot-failed), most frequent first. */
  reasons: { code: string; count: number }[];
  /** The automatic pause's settings, null when it is off (or the sample is not known). */
  autoPause: { clients: number; failed: number; since: number; threshold: number; minSample: number } | null;
  /** Clients of this channel per release over time, from activation reports (client clocks). */
  series: SeriesPoint[];
  seriesReleases: string[];
  /** The series was drawn from the app's newest `SERIES_REPORTS` activations only. */
  seriesCapped: boolean;
}

type Reports = StatusResponse['recentReports'];

/**
 * Clients per release at `BUCKETS` instants between the first activation and `now`: each client
 * counts for the release of its latest `activated` report at or before the instant; a
 * `boot-failed` on that release puts it back on the one it ran before.
 *
 * A report's time is the client's clock, which may be anything: it is kept between the release's
 * publish (`published`, server clock; nothing ran it before) and `now` (nothing is reported from
 * the future). One device set to 2100 stretched the axis to 2100 and squeezed every real bar
 * into the first.
 */
export function clientSeries(reports: Reports, now: number, buckets = BUCKETS, published: ReadonlyMap<string, number> = new Map()): SeriesPoint[] {
  // Oldest first before the (stable) sort by time, so reports of one instant keep the order they
  // were received in: an activation and the boot-failed that undid it both kept at `now`.
  const events = reports
    .filter((r) => r.event === 'activated' || r.event === 'boot-failed')
    .map((r) => ({ ...r, at: Math.min(now, Math.max(published.get(r.release) ?? -Infinity, r.at)) }))
    .reverse()
    .sort((a, b) => a.at - b.at);
  if (events.length === 0) return [];
  const start = events[0]!.at;
  const end = Math.max(now, events[events.length - 1]!.at);
  const steps = end > start ? buckets : 1;
  const history = new Map<string, string[]>();
  // Kept as clients move, not recounted over every client at each instant (100,000 clients x 24).
  const counts = new Map<string, number>();
  const points: SeriesPoint[] = [];
  let i = 0;
  for (let b = 1; b <= steps; b++) {
    const at = steps === 1 ? end : start + ((end - start) * b) / steps;
    for (; i < events.length && events[i]!.at <= at; i++) {
      const e = events[i]!;
      let h = history.get(e.client);
      if (!h) history.set(e.client, (h = []));
      const before = h[h.length - 1];
      if (e.event === 'activated') {
        if (before !== e.release) h.push(e.release);
      } else if (before === e.release) {
        h.pop();
      }
      const after = h[h.length - 1];
      if (before === after) continue;
      if (before !== undefined) counts.set(before, counts.get(before)! - 1);
      if (after !== undefined) counts.set(after, (counts.get(after) ?? 0) + 1);
    }
    points.push({ at: Math.round(at), counts: Object.fromEntries([...counts].filter(([, n]) => n > 0)) });
  }
  return points;
}

export interface DashboardData {
  status: StatusResponse;
  /** Per `app\nchannel`: the activation reports of the channel's clients (`Store.channelActivations`), for the over-time chart. */
  reports: Map<string, Reports>;
  /** Apps whose activation reports were read up to `SERIES_REPORTS`: older ones are missing from their charts. */
  capped?: ReadonlySet<string>;
  /** Per release id: when it was published (server clock), the earliest a client can have run it. */
  published?: ReadonlyMap<string, number>;
  /** Per app: clients per channel and release. */
  clients: Map<string, StatusResponse['clients']>;
  autoPause?: AutoPauseOptions | false;
  now: number;
}

export function channelViews(d: DashboardData): ChannelView[] {
  const { status } = d;
  const byId = new Map(status.releases.map((r) => [r.id, r]));
  const label = (id: string) => {
    const r = byId.get(id);
    return r ? `${r.version} #${r.seq}` : id;
  };
  return status.channels.map((ch) => {
    const clients = (d.clients.get(ch.app) ?? []).filter((c) => c.channel === ch.name).map(({ release, count }) => ({ release, count }));
    const totalClients = clients.reduce((n, c) => n + c.count, 0);
    const onTarget = clients.filter((c) => c.release === ch.release).reduce((n, c) => n + c.count, 0);
    const appReleases = status.releases.filter((r) => r.app === ch.app).map((r) => r.id);
    const count = (id: string, event: string, code?: string | null) =>
      status.reportCounts
        .filter((r) => r.release === id && r.event === event && (code === undefined || r.code === code))
        .reduce((n, r) => n + r.count, 0);
    const releases = appReleases.map((id) => ({
      id, label: label(id),
      downloaded: count(id, 'downloaded'), activated: count(id, 'activated'), failed: count(id, 'failed'),
      bootFailed: count(id, 'boot-failed'), rejected: count(id, 'rejected'), dropped: count(id, 'dropped'),
    }));
    const target = releases.find((r) => r.id === ch.release);
    const failures = target ? target.failed + target.bootFailed : 0;
    const attempts = target ? target.downloaded + target.failed : 0;
    const reasonCounts = new Map<string, number>();
    for (const r of status.reportCounts) {
      if (r.release !== ch.release || (r.event !== 'failed' && r.event !== 'boot-failed')) continue;
      const code = r.code ?? (r.event === 'boot-failed' ? 'boot_failed' : 'unknown');
      reasonCounts.set(code, (reasonCounts.get(code) ?? 0) + r.count);
    }
    const reasons = [...reasonCounts].map(([code, n]) => ({ code, count: n })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
    const activations = d.reports.get(`${ch.app}\n${ch.name}`) ?? [];
    const series = clientSeries(activations, d.now, BUCKETS, d.published);
    const seen = new Set(series.flatMap((p) => Object.keys(p.counts)));
    const seriesReleases = [...appReleases.filter((id) => seen.has(id)), ...[...seen].filter((id) => !appReleases.includes(id))];
    // Read defensively: stores and servers older than pausing do not send these fields.
    const { paused, pausedReason } = ch as Partial<Record<'paused' | 'pausedReason', unknown>>;
    const health = ch.health ?? null;
    return {
      app: ch.app, name: ch.name, release: ch.release, previous: ch.previous, fallback: fallbackRelease(ch, byId), percent: ch.percent,
      rolledBackFrom: rolledBackFrom(ch, byId),
      activation: ch.activation, updatedAt: ch.updatedAt, paused: typeof paused === 'boolean' ? paused : undefined,
      pausedReason: typeof pausedReason === 'string' ? pausedReason : null,
      clients, totalClients, onTarget, releases,
      failureRate: health && health.clients > 0 ? health.failed / health.clients : null, health, failures, attempts, reasons, series, seriesReleases,
      seriesCapped: d.capped?.has(ch.app) ?? false,
      autoPause: autoPauseView(d, ch),
    };
  });
}

function autoPauseView(d: DashboardData, ch: ChannelStatus): ChannelView['autoPause'] {
  const h = ch.health;
  if (!d.autoPause || !h) return null;
  return { ...h, threshold: d.autoPause.threshold, minSample: d.autoPause.minSample };
}

// ---------------------------------------------------------------------------------------------
// Rendering

const esc = (s: string | number) =>
  String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
/** Counts with thousands separators (1,234,567): a fleet's figures run to millions. */
const num = (n: number) => n.toLocaleString('en-US');
/** An axis figure in the few characters its margin holds: 950, 12K, 1.2M (exact figures are in the legend and the tooltips). */
const axis = (n: number) => new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n);
const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#dc2626', '#4b5563', '#db2777'];

const STYLE = `
*{box-sizing:border-box}body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:24px;background:#f5f6f8;color:#111827}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0}h3{font-size:13px;margin:0 0 6px;color:#4b5563;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.muted{color:#6b7280}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px;margin-top:16px}
.head{display:flex;gap:12px;align-items:center;flex-wrap:wrap}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px;margin-top:12px}
.grid>div{min-width:0}h2,.head,td,.legend span,.big+.muted{overflow-wrap:anywhere}svg{max-width:100%;height:auto}
.badge{border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600}.paused{background:#fee2e2;color:#991b1b}.back{background:#fef3c7;color:#92400e}.live{background:#dcfce7;color:#166534}
.big{font-size:28px;font-weight:700}.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin-top:4px}.legend span{display:inline-flex;align-items:center;gap:4px}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
svg text{font:11px system-ui,sans-serif;fill:#374151}form{margin-top:16px}input{padding:6px;width:320px;max-width:100%}button{padding:6px 12px}
@media (max-width:600px){body{padding:8px}.card{padding:10px}}
`;
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;
const CSP = `default-src 'none'; style-src ${STYLE_HASH}; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="no-referrer"><title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function swatch(color: string): string {
  return `<svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${color}"/></svg>`;
}

/** Opens an SVG that scales down to its column (its viewBox) instead of widening the page on a phone. */
const svgOpen = (cls: string, w: number, h: number, label: string) =>
  `<svg class="${cls}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}">`;

/** Left column of the bar charts, px, and what of a label fits in it at 11px (about 6.2 px a character). */
const LABEL_W = 150;
const LABEL_CHARS = 22;

/**
 * A label in the bar charts' left column: cut to what fits (a version may be 100 characters) so
 * it does not run over the bars; the whole label is its tooltip.
 */
function labelText(x: number, y: number, text: string): string {
  const cut = text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
  return `<text x="${x}" y="${y}">${cut === text ? '' : `<title>${esc(text)}</title>`}${esc(cut)}</text>`;
}

function rolloutChart(v: ChannelView): string {
  const w = 520;
  const share = v.totalClients ? v.onTarget / v.totalClients : 0;
  const targetX = (v.percent / 100) * w;
  return `${svgOpen('rollout', w + 10, 46, `${num(v.onTarget)} of ${num(v.totalClients)} clients on the target release; rollout at ${v.percent}%${v.paused ? ', paused' : ''}`)}
<rect x="0" y="6" width="${w}" height="22" rx="4" fill="#e5e7eb"/>
<rect x="0" y="6" width="${(share * w).toFixed(1)}" height="22" rx="4" fill="#16a34a"/>
<line x1="${targetX.toFixed(1)}" x2="${targetX.toFixed(1)}" y1="2" y2="32" stroke="#111827" stroke-width="2" stroke-dasharray="3 2"/>
<text x="0" y="44">0%</text><text x="${Math.max(70, targetX).toFixed(1)}" y="44" text-anchor="end">${v.paused ? `${esc(v.percent)}% once resumed` : `offered to ${esc(v.percent)}%`}</text>${targetX < w - 110 ? `<text x="${w}" y="44" text-anchor="end">100%</text>` : ''}
</svg>`;
}

/** Grey for what has no colour of its own: clients installing, releases past the palette. */
const OTHER = '#9ca3af';

function seriesChart(v: ChannelView, color: (id: string) => string | undefined): string {
  if (v.series.length === 0) return `<p class="muted" data-series-empty>No activation reports yet.</p>`;
  // One stacked segment per release with a colour of its own; the releases past the palette share
  // one grey segment, so no two segments look alike (22 releases over 8 colours did).
  const groups: { ids: string[]; color: string; label: string }[] = [];
  const others: string[] = [];
  for (const id of v.seriesReleases) {
    const c = color(id);
    if (c) groups.push({ ids: [id], color: c, label: v.releases.find((r) => r.id === id)?.label ?? id });
    else others.push(id);
  }
  if (others.length) groups.push({ ids: others, color: OTHER, label: `${others.length} other release${others.length === 1 ? '' : 's'}` });
  const sum = (p: SeriesPoint, ids: string[]) => ids.reduce((n, id) => n + (p.counts[id] ?? 0), 0);
  const w = 520, h = 170, left = 44, bottom = 20;
  const max = Math.max(1, ...v.series.map((p) => Object.values(p.counts).reduce((a, b) => a + b, 0)));
  const bw = (w - left) / v.series.length;
  const y = (n: number) => ((h - bottom) * n) / max;
  const bars = v.series.map((p, i) => {
    let acc = 0;
    const x = left + i * bw + 1;
    return groups.map((g) => {
      const n = sum(p, g.ids);
      if (!n) return '';
      const rect = `<rect x="${x.toFixed(1)}" y="${(h - bottom - y(acc + n)).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${y(n).toFixed(1)}" fill="${g.color}"><title>${esc(`${isoTime(p.at)}: ${num(n)} on ${g.label}`)}</title></rect>`;
      acc += n;
      return rect;
    }).join('');
  }).join('');
  const when = (at: number) => `${isoTime(at).replace('T', ' ').slice(0, 19)} UTC`;
  const first = when(v.series[0]!.at);
  const last = when(v.series[v.series.length - 1]!.at);
  const latest = v.series[v.series.length - 1]!;
  const legend = groups.map((g) =>
    `<span ${g.ids.length === 1 ? `data-series-release="${esc(g.ids[0]!)}"` : 'data-series-others'} data-count="${sum(latest, g.ids)}">${swatch(g.color)}${esc(g.label)}: ${num(sum(latest, g.ids))}</span>`).join('');
  return `${svgOpen('series', w, h + 14, 'clients per release over time')}
<line x1="${left}" x2="${w}" y1="${h - bottom}" y2="${h - bottom}" stroke="#9ca3af"/>
<line x1="${left}" x2="${w}" y1="1" y2="1" stroke="#e5e7eb"/><text x="0" y="10">${axis(max)}</text><text x="0" y="${h - bottom}">0</text><text x="0" y="${(h - bottom) / 2}">clients</text>${bars}
<text x="${left}" y="${h - 4}">${esc(first)}</text><text x="${w}" y="${h - 4}" text-anchor="end">${esc(last)}</text>
</svg><div class="legend">${legend}</div>`;
}

/** The report kinds of the counts chart: key, colour, name. */
const KINDS = [
  ['downloaded', '#2563eb', 'downloaded'], ['activated', '#16a34a', 'activated'], ['failed', '#dc2626', 'failed'],
  ['bootFailed', '#d97706', 'boot-failed'], ['rejected', '#6b7280', 'rejected'], ['dropped', '#7c3aed', 'dropped'],
] as const;

function countsChart(v: ChannelView): string {
  // The releases of this channel: what it offers and what its clients run. Every release of the app
  // with a report (another channel's too) made 22 rows in each card of a 22-release app.
  const mine = new Set([v.release, v.previous, v.fallback, ...v.clients.map((c) => c.release), ...v.seriesReleases]);
  const rows = v.releases.filter((r) => mine.has(r.id));
  if (rows.length === 0) return '<p class="muted">No releases.</p>';
  // Downloads, activations and failures always; boot-failed, rejected and dropped (a pause or a roll
  // back withdrew the release from devices holding it) only once some were reported.
  const kinds = KINDS.filter(([k]) => k === 'downloaded' || k === 'activated' || k === 'failed' || rows.some((r) => r[k] > 0));
  const max = Math.max(1, ...rows.flatMap((r) => kinds.map(([k]) => r[k])));
  // Each bar's figure is followed by its kind, so the chart reads without telling colours apart.
  const w = 520, barH = 13, rowH = kinds.length * (barH + 2) + 10, room = w - LABEL_W - 130;
  const body = rows.map((r, i) => {
    const y0 = i * rowH;
    const bars = kinds.map(([k, col, name], j) => {
      const n = r[k];
      const bw = (room * n) / max;
      const y = y0 + j * (barH + 2);
      return `<rect x="${LABEL_W}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${col}" data-release="${esc(r.id)}" data-event="${k}" data-count="${n}"><title>${esc(`${r.id} ${name}: ${num(n)}`)}</title></rect>` +
        `<text x="${(LABEL_W + bw + 4).toFixed(1)}" y="${y + barH - 2}">${num(n)} ${name}</text>`;
    }).join('');
    return labelText(0, Number(((y0 + (kinds.length * (barH + 2)) / 2 + 4)).toFixed(1)), r.label) + bars;
  }).join('');
  const legend = kinds.map(([, col, name]) => `<span>${swatch(col)}${name}</span>`).join('');
  return `${svgOpen('counts', w, rows.length * rowH, 'reports per release')}${body}</svg><div class="legend">${legend}</div>`;
}

function reasonsChart(v: ChannelView): string {
  // The headline is the rate the automatic pause acts on (and `updraft status` prints): distinct
  // clients, failures about the device or the rollout (an expired plan, a full disk, a newer plan,
  // a withdrawal) left out. A second rate of raw events beside it told another story.
  const h = v.health;
  const rate = v.failureRate === null ? '–' : ratePercent(v.failureRate);
  const head = `<div><span class="big" data-failure-rate="${v.failureRate === null ? '' : v.failureRate.toFixed(4)}">${rate}</span> ` +
    (h
      ? `<span class="muted" data-failure-rate-clients="${h.clients}" data-failure-rate-failed="${h.failed}">failure rate of the target as the automatic pause counts it: ${esc(healthText(h))} (distinct clients; expired plans, full disks, newer plans and withdrawals are not failures of the release)</span></div>`
      : '<span class="muted">failure rate of the target: not known</span></div>');
  const a = v.autoPause;
  const sample = a === null
    ? '<p class="muted" data-auto-pause="off">Automatic pause: off.</p>'
    : `<p class="muted" data-auto-pause="on" data-auto-pause-failed="${a.failed}" data-auto-pause-clients="${a.clients}">Automatic pause: on; it pauses the channel at ${pct(a.threshold)} once ${num(a.minSample)} clients have reported.</p>`;
  const events = `<p class="muted">Reports on the target: <span data-failures="${v.failures}">${num(v.failures)}</span> failed or boot-failed of <span data-attempts="${v.attempts}">${num(v.attempts)}</span> downloaded or failed (events, every code)${v.reasons.length ? ', by reason:' : '.'}</p>`;
  if (v.reasons.length === 0) return `${head}${sample}${events}<p class="muted">No failures reported.</p>`;
  const max = Math.max(...v.reasons.map((r) => r.count));
  const w = 520, barH = 16, room = w - LABEL_W - 70;
  const bars = v.reasons.map((r, i) => {
    const bw = (room * r.count) / max;
    const y = i * (barH + 4);
    return labelText(0, y + 12, r.code) + `<rect x="${LABEL_W}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" rx="3" fill="#dc2626" data-reason="${esc(r.code)}" data-count="${r.count}"/>` +
      `<text x="${(LABEL_W + bw + 4).toFixed(1)}" y="${y + 12}">${num(r.count)}</text>`;
  }).join('');
  return `${head}${sample}${events}${svgOpen('reasons', w, v.reasons.length * (barH + 4), 'failure reasons')}${bars}</svg>`;
}

function channelCard(v: ChannelView): string {
  // A colour each for as many releases as the palette has, the target first, then those most
  // clients run now: a colour given twice would make two releases look like one.
  const running = new Map<string, number>();
  for (const c of v.clients) if (c.release) running.set(c.release, c.count);
  const latest = v.series[v.series.length - 1]?.counts ?? {};
  const ranked = [...new Set([...v.clients.flatMap((c) => c.release ?? []), ...v.seriesReleases])]
    .sort((a, b) => Number(b === v.release) - Number(a === v.release) || (running.get(b) ?? 0) - (running.get(a) ?? 0) || (latest[b] ?? 0) - (latest[a] ?? 0));
  // Colours go to the chosen releases in publish order, as the table and the counts chart list them.
  const order = new Map(v.releases.map((r, i) => [r.id, i]));
  const colored = ranked.slice(0, PALETTE.length).sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
  const colors = new Map(colored.map((id, i) => [id, PALETTE[i]!]));
  const color = (id: string) => colors.get(id);
  const label = (id: string | null) => (id === null ? '(installing)' : v.releases.find((r) => r.id === id)?.label ?? id);
  const paused = v.paused === undefined ? '' : v.paused
    ? `<span class="badge paused" data-paused="true">paused${v.pausedReason ? `: ${esc(v.pausedReason)}` : ''}</span>`
    : '<span class="badge live" data-paused="false">rolling out</span>';
  const clientRows = v.clients.map((c) =>
    `<tr data-clients-release="${esc(c.release ?? '')}" data-count="${c.count}"><td>${swatch((c.release && color(c.release)) || OTHER)} ${esc(label(c.release))}</td><td>${num(c.count)}</td><td>${v.totalClients ? pct(c.count / v.totalClients) : '–'}</td></tr>`).join('');
  return `<section class="card" data-channel="${esc(v.name)}" data-app="${esc(v.app)}" data-release="${esc(v.release)}" data-percent="${v.percent}">
<div class="head"><h2>${esc(v.app)} / ${esc(v.name)}</h2>${paused}${v.rolledBackFrom ? `<span class="badge back" data-rolled-back-from="${esc(v.rolledBackFrom)}">rolled back from ${esc(label(v.rolledBackFrom))}</span>` : ''}<span class="muted">→ ${esc(label(v.release))} <code>${esc(v.release)}</code> · ${esc(v.activation)} · updated ${esc(new Date(v.updatedAt).toISOString())}</span></div>
<div class="grid">
<div><h3>Rollout progress</h3><div><span class="big" data-on-target="${v.onTarget}">${num(v.onTarget)}</span> <span class="muted">of</span> <span class="big" data-total-clients="${v.totalClients}">${num(v.totalClients)}</span> <span class="muted">clients on the target (${v.totalClients ? pct(v.onTarget / v.totalClients) : '–'}); ${v.paused
    // As the planner has it: while paused no client gets a plan to the target, whatever the percent.
    ? `<span data-offered="none">paused: no client is offered it${v.fallback ? `, new clients get ${v.fallback === v.previous ? '' : 'the minimum '}${esc(label(v.fallback))}` : ''}; ${esc(v.percent)}% once resumed</span>`
    : `offered to ${esc(v.percent)}%`}${v.paused || v.percent >= 100 ? '' : v.fallback ? `, the rest ${v.fallback === v.previous ? 'stay on' : 'get the minimum'} ${esc(label(v.fallback))}` : v.previous ? `, the rest stay where they are (rolled back from ${esc(label(v.previous))}: offered to nobody)` : ''}</span></div>
${rolloutChart(v)}${v.clients.length === 0
    ? `<p class="muted" data-clients-empty>No client has checked in on this channel yet. A build made with <code>updraft({ channel: '${esc(v.name)}' })</code> checks in here once a browser opens it.</p>`
    : `<table><tr><th>active release (latest check-in)</th><th>clients</th><th>share</th></tr>${clientRows}</table>`}</div>
<div><h3>Clients per release over time</h3>${seriesChart(v, color)}<p class="muted">Clients now on this channel, from their activation reports (client clocks, kept between the release's publish and now; a boot-failed rollback counts back to the previous release).${v.seriesCapped ? ` <span data-series-capped>From the newest ${num(SERIES_REPORTS)} activations of ${esc(v.app)} only: clients whose last one is older are left out.</span>` : ''}</p></div>
<div><h3>Downloads, activations, failures (reports)</h3>${countsChart(v)}<p class="muted" data-reports-scope>The releases this channel offers and its clients run; reports from every client of ${esc(v.app)} (a report does not name its channel).</p></div>
<div><h3>Failure rate and reasons</h3>${reasonsChart(v)}<p class="muted">Of the target release, from every client of ${esc(v.app)}.</p></div>
</div></section>`;
}

export function renderDashboard(views: ChannelView[], now: number): string {
  const body = views.length === 0
    ? '<p class="card">No channels yet: <code>updraft publish &lt;dist&gt; --channel stable</code> creates one.</p>'
    : views.map(channelCard).join('\n');
  return page('Updraft dashboard', `<h1>Updraft dashboard</h1><p class="muted">Generated ${esc(new Date(now).toISOString())} · reload for fresh figures</p>${body}`);
}

function loginPage(message: string, action: string): string {
  return page('Updraft dashboard: sign in', `<h1>Updraft dashboard</h1><p>${esc(message)}</p>
<form method="post" action="${esc(action)}"><label>Admin token <input type="password" name="token" autocomplete="current-password" required></label> <button type="submit">Open</button></form>`);
}

// ---------------------------------------------------------------------------------------------
// Routes

function secure(c: Context, status: 200 | 401 | 403 | 303 = 200): void {
  c.status(status);
  c.header('Content-Security-Policy', CSP);
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Content-Type-Options', 'nosniff');
}

function readCookie(c: Context, name: string): string | undefined {
  for (const part of (c.req.header('Cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function dashboardRoutes(o: ResolvedOptions): Hono {
  const app = new Hono();
  const tokens = o.tokens;

  /** Who the request is (bearer header, else session cookie), or null. */
  const principal = async (c: Context): Promise<Principal | null> => {
    const bearer = bearerToken(c);
    if (bearer !== undefined) return tokens.verify(bearer);
    const cookie = readCookie(c, DASHBOARD_COOKIE);
    return cookie === undefined ? null : tokens.fromSession(cookie);
  };

  /** Sets the session cookie and redirects to the page's own path, dropping the token from the URL. */
  const signIn = async (c: Context, who: Principal) => {
    if (!who.scopes.has('read')) return forbid(c);
    const value = await tokens.session(who);
    // Revoked between the check and now: no session for a token that no longer exists.
    if (!value) return refuse(c, 'Wrong token.');
    // The path and scheme as Hono has them: `new URL(c.req.url)` throws on a Host it cannot parse.
    const path = c.req.path;
    const flags = ['HttpOnly', 'SameSite=Strict', `Path=${path}`, `Max-Age=${COOKIE_MAX_AGE}`];
    if (c.req.url.startsWith('https:')) flags.push('Secure');
    secure(c, 303);
    c.header('Set-Cookie', `${DASHBOARD_COOKIE}=${value}; ${flags.join('; ')}`);
    c.header('Location', path);
    return c.body(null);
  };

  const refuse = (c: Context, message: string) => {
    secure(c, 401);
    c.header('WWW-Authenticate', 'Bearer realm="updraft"');
    return c.html(loginPage(message, c.req.path));
  };
  const forbid = (c: Context) => {
    secure(c, 403);
    return c.html(loginPage('This token lacks the read scope the dashboard needs.', c.req.path));
  };

  app.get(`/${DASHBOARD_PATH}`, async (c) => {
    const presented = c.req.query('token');
    if (presented !== undefined) {
      const who = await tokens.verify(presented);
      return who ? signIn(c, who) : refuse(c, 'Wrong token.');
    }
    const who = await principal(c);
    if (!who) return refuse(c, 'Sign in with an admin token (read scope).');
    if (!who.scopes.has('read')) return forbid(c);
    const now = o.now();
    const { status, published } = await loadStatus(o);
    const apps = [...new Set(status.channels.map((ch) => ch.app))];
    const reports = new Map<string, Reports>();
    const clients = new Map<string, StatusResponse['clients']>();
    for (const a of apps) clients.set(a, await o.store.countClients(a));
    // One read per app, split by channel here: a read per channel went over the app's reports as many times.
    const capped = new Set<string>();
    for (const a of apps) {
      const rows = await o.store.channelActivations(a, SERIES_REPORTS);
      if (rows.length >= SERIES_REPORTS) capped.add(a);
      for (const { channel, ...r } of rows) {
        const key = `${a}\n${channel}`;
        const list = reports.get(key);
        if (list) list.push(r);
        else reports.set(key, [r]);
      }
    }
    secure(c);
    return c.html(renderDashboard(channelViews({ status, reports, capped, published, clients, autoPause: o.autoPause, now }), now));
  });

  // The sign-in form holds one token: a few KiB is plenty, and parseBody would otherwise read any size.
  app.post(`/${DASHBOARD_PATH}`, jsonBodyLimit(FORM_LIMIT), async (c) => {
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const presented = typeof form['token'] === 'string' ? form['token'] : '';
    const who = presented ? await tokens.verify(presented) : null;
    return who ? signIn(c, who) : refuse(c, 'Wrong token.');
  });
  return app;
}

/** The same figures `GET v1/admin/status` answers (without its recent-reports list), and when each release was published. */
async function loadStatus(o: ResolvedOptions): Promise<{ status: StatusResponse; published: Map<string, number> }> {
  const releases = await o.store.listReleases();
  const summaries = releases.map(releaseSummary);
  const byId = new Map(summaries.map((r) => [r.id, r]));
  const channels: ChannelStatus[] = [];
  // As `GET admin/status` has them (`channelStatus`): rolled back or not, and the target's failure rate.
  for (const ch of await o.store.listChannels()) channels.push(channelStatus(ch, byId, await o.store.releaseHealth(ch.app, ch.release, ch.sampleSince ?? 0)));
  const status = {
    releases: summaries,
    channels,
    // Counted per app where they are shown (a status row has no app): counting every client here
    // as well was one more pass over the clients table per load, for nothing.
    clients: [],
    reportCounts: await o.store.reportCounts(),
    recentReports: [],
  };
  return { status, published: new Map(releases.map((r) => [r.manifest.id, r.publishedAt])) };
}
