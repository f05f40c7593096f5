import * as v from 'valibot';
import { ReleaseId, ReleaseManifest, Sha256, Name } from './release.js';
import { joinUrl, PATHS } from './paths.js';
import { PlanSignature } from './plan-signature.js';
import { applyReleasePatch, ReleasePatch } from './release-patch.js';

export const ActivationPolicy = v.picklist(['next-navigation', 'prompt', 'immediate']);
export type ActivationPolicy = v.InferOutput<typeof ActivationPolicy>;

const TaskBase = {
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  /** Ids of tasks that must be `done` before this one may run. */
  after: v.array(v.string()),
};

/** One way to build a part from a part the client already holds. */
export const DeltaSource = v.object({
  from: Sha256,
  url: v.pipe(v.string(), v.url()),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type DeltaSource = v.InferOutput<typeof DeltaSource>;

/** Fetch one part from `sources` in order (CDN URLs first, origin last), verify, store by hash. */
export const FetchTask = v.object({
  ...TaskBase,
  kind: v.literal('fetch'),
  sha256: Sha256,
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  sources: v.pipe(v.array(v.pipe(v.string(), v.url())), v.minLength(1)),
  /**
   * Server clock, epoch ms. The SW converts it to its own clock as
   * `receivedAt + (notBefore - plan.servedAt)`, so clock skew does not matter.
   */
  notBefore: v.pipe(v.number(), v.integer()),
  /**
   * Delta sources, tried before `sources` when the client holds the part `from`: a Fossil delta
   * (https://fossil-scm.org/home/doc/tip/www/delta_format.wiki) that turns `from`'s bytes into
   * this part's. `size` is the delta's byte count; a small delta comes inline as a `data:` URL.
   * Optional: plans without it stay valid.
   */
  deltas: v.optional(v.array(DeltaSource)),
});
/** Once every fetch is done: verify presence and write the staged release in one transaction. */
export const InstallTask = v.object({ ...TaskBase, kind: v.literal('install') });
/** Once installed: switch the active release per `plan.activation`. */
export const ActivateTask = v.object({ ...TaskBase, kind: v.literal('activate') });
/** Tell the server an outcome. */
export const ReportTask = v.object({
  ...TaskBase,
  kind: v.literal('report'),
  event: v.picklist(['downloaded', 'activated']),
});
export const Task = v.variant('kind', [FetchTask, InstallTask, ActivateTask, ReportTask]);
export type FetchTask = v.InferOutput<typeof FetchTask>;
export type InstallTask = v.InferOutput<typeof InstallTask>;
export type ActivateTask = v.InferOutput<typeof ActivateTask>;
export type ReportTask = v.InferOutput<typeof ReportTask>;
export type Task = v.InferOutput<typeof Task>;
export type TaskKind = Task['kind'];

/**
 * One part to fetch in a plan's compact form (`fetch`): its sources are `v1/blobs/<sha256>` under
 * each of the plan's `bases`, in their order, with the one at `first` moved to the front.
 */
export const CompactPart = v.object({
  sha256: Sha256,
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** As a fetch task's; absent when the `fetch`'s own `notBefore` holds for this part. */
  notBefore: v.optional(v.pipe(v.number(), v.integer())),
  first: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  deltas: v.optional(v.array(DeltaSource)),
});
export type CompactPart = v.InferOutput<typeof CompactPart>;

/**
 * The task list in few bytes (since 0.3, sent only to workers whose check-in says
 * `caps.compactPlans`): the parts to fetch and the base URLs they come from. It stands for the
 * task list every plan has, which `expandFetch` rebuilds: one fetch per part, then `install`
 * after all of them, `report:downloaded` and `activate` after `install`, `report:activated` after
 * `activate`. A plan's full form names each part's hash five times (task id, hash, each source
 * URL, install's `after`); this names it once, which made a six-part plan 40 % of its bytes.
 */
export const CompactFetch = v.pipe(
  v.object({
    bases: v.pipe(v.array(v.pipe(v.string(), v.url())), v.minLength(1), v.maxLength(16)),
    /** The `notBefore` of every part that has none of its own (most plans: one time for all). */
    notBefore: v.optional(v.pipe(v.number(), v.integer())),
    parts: v.array(CompactPart),
  }),
  v.check((f) => f.parts.every((p) => p.first === undefined || p.first < f.bases.length), 'a part\'s first source must be one of the bases'),
  v.check((f) => f.notBefore !== undefined || f.parts.every((p) => p.notBefore !== undefined), 'every part needs a notBefore, its own or the fetch\'s'),
);
export type CompactFetch = v.InferOutput<typeof CompactFetch>;

/** The task list a compact `fetch` stands for (see `CompactFetch`). */
export function expandFetch(f: CompactFetch): Task[] {
  const fetches: FetchTask[] = f.parts.map((p) => {
    const path = PATHS.blob(p.sha256);
    const sources = sourcesWithFirst(f.bases.map((base) => joinUrl(base, path)), p.first);
    return {
      id: `fetch:${p.sha256}`, kind: 'fetch', after: [], sha256: p.sha256, size: p.size,
      ...(p.deltas ? { deltas: p.deltas } : {}),
      sources, notBefore: (p.notBefore ?? f.notBefore)!,
    };
  });
  return [...fetches, ...finalTasks(fetches.map((t) => t.id))];
}

/**
 * `sources` with the one at `first` moved to the front, the rest in their order: how a plan's
 * per-client source order is written (the server's full form) and read (`expandFetch`).
 */
export function sourcesWithFirst(sources: readonly string[], first: number | undefined): string[] {
  if (!first) return [...sources];
  return [sources[first]!, ...sources.slice(0, first), ...sources.slice(first + 1)];
}

/** The tasks after the fetches, the same in every plan. */
export function finalTasks(fetchIds: string[]): Task[] {
  return [
    { id: 'install', kind: 'install', after: fetchIds },
    { id: 'report:downloaded', kind: 'report', event: 'downloaded', after: ['install'] },
    { id: 'activate', kind: 'activate', after: ['install'] },
    { id: 'report:activated', kind: 'report', event: 'activated', after: ['activate'] },
  ];
}

/** The update task list the server hands a client. */
const PlanObject = v.object({
  planId: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  app: Name,
  /**
   * The release the plan was issued for: the one the check-in named (null: none). Signed; a worker
   * refuses a plan whose `from` is not the release it runs (`downgrade`), so a plan captured from
   * one device cannot be replayed to another.
   */
  from: v.nullable(ReleaseId),
  to: ReleaseId,
  toSeq: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /**
   * A signed rollback directive: the server moves this client to a release with a lower `toSeq`
   * on purpose. Without it a SW refuses any plan below the sequence of the release it runs or has
   * staged.
   * Since 0.2, additive: absent means false.
   */
  rollback: v.optional(v.boolean()),
  /** Server clock, epoch ms, when the plan's signed part was made (at most a second before `servedAt`). */
  issuedAt: v.pipe(v.number(), v.integer()),
  /** Server clock, epoch ms. The SW refuses a plan already expired on its own clock (freeze and replay attacks). */
  expiresAt: v.pipe(v.number(), v.integer()),
  /**
   * Server clock, epoch ms, when this answer was made: what the SW measures `notBefore` and
   * `expiresAt` against, so clock skew does not matter. Not signed. Since 0.2: absent means `issuedAt`.
   */
  servedAt: v.optional(v.pipe(v.number(), v.integer())),
  /** Ed25519 signatures of `planStatement(plan)`, one per server signing key (several during a key rotation). */
  signatures: v.optional(v.pipe(v.array(PlanSignature), v.maxLength(8))),
  activation: ActivationPolicy,
  /** The target release's manifest: what `install` writes as the staged release. Absent when `releasePatch` carries it. */
  release: v.optional(ReleaseManifest),
  /**
   * The manifest as a change to `from`'s, which the client holds (since 0.2; a plan has `release`
   * or `releasePatch`). The worker rebuilds `release` from it before checking signatures.
   */
  releasePatch: v.optional(ReleasePatch),
  /** The task list. Absent when `fetch` carries it. */
  tasks: v.optional(v.array(Task)),
  /** The task list in its compact form (since 0.3; see `CompactFetch`): a plan has `tasks` or `fetch`. */
  fetch: v.optional(CompactFetch),
});

/**
 * A plan as the server sends it: the manifest whole (`release`) or as a patch, the task list whole
 * (`tasks`) or compact (`fetch`). Parsing expands a compact `fetch` into `tasks`, so everything
 * after the wire (signatures, the worker's store) sees one form.
 */
export const Plan = v.pipe(
  PlanObject,
  v.check((p) => (p.release === undefined) !== (p.releasePatch === undefined), 'a plan has exactly one of release and releasePatch'),
  v.check((p) => (p.tasks === undefined) !== (p.fetch === undefined), 'a plan has exactly one of tasks and fetch'),
  v.transform(({ fetch, tasks, ...plan }) => ({ ...plan, tasks: tasks ?? expandFetch(fetch!) })),
);
export type WirePlan = v.InferOutput<typeof Plan>;
/** A plan with its manifest whole: what the worker stores and runs (`expandPlan` makes one). */
export type Plan = WirePlan & { release: ReleaseManifest };

/**
 * The plan with its manifest whole: `release` as sent, or rebuilt from `releasePatch` and `base`
 * (the client's copy of the patch's base release). Null when the patch needs a base not given.
 */
export function expandPlan(plan: WirePlan, base?: ReleaseManifest | null): Plan | null {
  if (plan.release) return plan as Plan;
  const patch = plan.releasePatch!;
  if (!base || base.id !== patch.base) return null;
  return { ...plan, release: applyReleasePatch(base, patch, plan.to, plan.app) };
}
