import type { Personal, PlanTemplate } from './planner.js';
import { sourcesWithFirst } from './planner.js';
import { planIdFor } from './rollout-bucket.js';

/**
 * A plan template pre-serialised into JSON fragments, so answering a client is string
 * concatenation around its own numbers (plan id, clock, slots) instead of building and
 * stringifying an object that embeds the whole manifest. `renderUpdate` must stay equal to
 * `JSON.stringify(personalize(...))` once parsed; planner.test.ts checks it.
 */
export interface RenderedTemplate {
  template: PlanTemplate;
  /** `,"app":...,"toSeq":N,"issuedAt":` */
  afterPlanId: string;
  /** `,"activation":...,"release":{...},"tasks":[` */
  afterExpires: string;
  /** Per fetch: `{"id":...,"size":N,"sources":` */
  fetchHeads: string[];
  /** Per fetch: its sources in template order, as JSON. */
  fetchSources: string[];
  /** `]` + install/report/activate tasks + `]}` */
  tail: string;
}

export function renderTemplate(t: PlanTemplate): RenderedTemplate {
  const s = JSON.stringify;
  const fetchHeads = t.fetches.map((f) => `{"id":${s(f.id)},"kind":"fetch","after":[],"sha256":${s(f.sha256)},"size":${f.size},${f.deltas ? `"deltas":${s(f.deltas)},` : ''}"sources":`);
  const fetchIds = t.fetches.map((f) => f.id);
  const tail = `${t.fetches.length ? ',' : ''}${s({ id: 'install', kind: 'install', after: fetchIds })},`
    + `${s({ id: 'report:downloaded', kind: 'report', event: 'downloaded', after: ['install'] })},`
    + `${s({ id: 'activate', kind: 'activate', after: ['install'] })},`
    + `${s({ id: 'report:activated', kind: 'report', event: 'activated', after: ['activate'] })}]}`;
  return {
    template: t,
    afterPlanId: `,"app":${s(t.app)},"from":${s(t.from)},"to":${s(t.to)},"toSeq":${t.toSeq},"issuedAt":`,
    afterExpires: `,"activation":${s(t.activation)},"release":${s(t.release)},"tasks":[`,
    fetchHeads,
    fetchSources: t.fetches.map((f) => s(f.sources)),
    tail,
  };
}

/** `{"status":"current","nextCheckIn":N}` */
export function renderCurrent(checkInInterval: number): string {
  return JSON.stringify({ status: 'current', nextCheckIn: checkInInterval });
}

/** The JSON of `personalize(r.template, p)`, built from the cached fragments. */
export function renderUpdate(r: RenderedTemplate, p: Personal): string {
  let out = `{"status":"update","plan":{"planId":"${planIdFor(p.client, r.template.to, p.now)}"${r.afterPlanId}${p.now},"expiresAt":${p.now + p.options.planTtlMs}${r.afterExpires}`;
  const fetches = r.template.fetches;
  for (let i = 0; i < fetches.length; i++) {
    const first = p.sourceFirst?.[i];
    const sources = first ? JSON.stringify(sourcesWithFirst(fetches[i]!.sources, first)) : r.fetchSources[i];
    out += `${i ? ',' : ''}${r.fetchHeads[i]}${sources},"notBefore":${p.notBefore[i]}}`;
  }
  return `${out}${r.tail},"nextCheckIn":${p.options.checkInInterval}}`;
}
