import type { StatusResponse } from '../protocol/index.js';

/** `updraft status` as text: one block per channel with its clients and their reports. */
export function formatStatus(s: StatusResponse): string {
  const version = new Map(s.releases.map((r) => [r.id, `${r.version} #${r.seq}`]));
  const label = (id: string | null) => (id ? `${id} (${version.get(id) ?? '?'})` : '(none)');
  const lines: string[] = [];
  if (s.channels.length === 0) lines.push(`no channels (${s.releases.length} release(s) published)`);
  for (const ch of s.channels) {
    lines.push(`${ch.app}/${ch.name}  →  ${label(ch.release)}  ${ch.percent}%  ${ch.activation}`);
    if (ch.previous) lines.push(`  others stay on ${label(ch.previous)}`);
    const clients = s.clients.filter((c) => c.channel === ch.name);
    lines.push(`  clients: ${clients.length ? '' : 'none'}`);
    for (const c of clients) lines.push(`    ${String(c.count).padStart(6)}  ${label(c.release)}`);
    for (const id of [ch.release, ch.previous]) {
      const counts = s.reportCounts.filter((r) => r.release === id);
      if (!id || counts.length === 0) continue;
      const text = counts.map((r) => `${r.event}${r.code ? `(${r.code})` : ''} ${r.count}`).join(', ');
      lines.push(`  reports for ${id}: ${text}`);
    }
  }
  return lines.join('\n');
}
