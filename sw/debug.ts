/** The worker's log ring and its debug state (`<scope>__updraft/state` and `state.json`). */
import type { SwDebugState } from '../protocol/index.js';

export const LOG_LINES = 50;

export class Log {
  private lines: string[] = [];
  constructor(private readonly now: () => number) {}

  info(message: string): void {
    this.push('info', message);
  }
  warn(message: string): void {
    this.push('warn', message);
  }
  error(message: string, error?: unknown): void {
    this.push('error', error === undefined ? message : `${message}: ${describeError(error)}`);
  }
  tail(): string[] {
    return [...this.lines];
  }

  private push(level: string, message: string): void {
    this.lines.push(`${new Date(this.now()).toISOString()} ${level} ${message}`);
    if (this.lines.length > LOG_LINES) this.lines.splice(0, this.lines.length - LOG_LINES);
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

const time = (t: number | null | undefined) => (t ? new Date(t).toISOString() : '-');

export function renderState(s: SwDebugState): string {
  const out = [
    `Updraft service worker`,
    `client: ${s.client ?? '-'}`,
    `mode: ${s.mode}${s.why ? ` (${s.why})` : ''}`,
    `active: ${s.active ?? '-'}`,
    `staged: ${s.staged ?? '-'}`,
    `next check-in: ${time(s.nextCheckInAt)}`,
    `holds: ${Object.entries(s.holdUntil).map(([o, t]) => `${o} until ${time(t)}`).join(', ') || '-'}`,
    `releases: ${s.releases.join(', ') || '-'}`,
    `parts: ${s.parts}`,
    `pins: ${s.pins.map((p) => `${p.clientId}→${p.release}${p.network ? ' (network)' : ''}`).join(', ') || '-'}`,
    `boot check: ${s.boot ? `${s.boot.release} awaits ready(), else back to ${s.boot.previous}${s.boot.deadline ? ` at ${time(s.boot.deadline)}` : ' (clock starts at its first page)'}` : '-'}`,
    `bad releases: ${s.bad.join(', ') || '-'}`,
    '',
  ];
  if (s.plan) {
    out.push(`plan ${s.plan.planId}: ${s.plan.from ?? '-'} → ${s.plan.to} (${s.plan.activation}${s.plan.applied ? ', applied' : ''})`);
    for (const t of s.plan.tasks) {
      const next = t.nextAttemptAt ? ` next ${time(t.nextAttemptAt)}` : '';
      const err = t.lastError ? ` last error: ${t.lastError}` : '';
      out.push(`  ${t.id} ${t.kind} ${t.state} attempts ${t.attempts}${next}${err}`);
    }
  } else {
    out.push('plan: -');
  }
  out.push('', 'log:', ...s.log.map((l) => `  ${l}`));
  return out.join('\n') + '\n';
}
