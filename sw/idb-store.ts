/**
 * `SwStore` on IndexedDB (database `updraft`, version 1) through `idb`.
 *
 * Stores: `meta` (key → value), `releases` (keyPath `id`), `pointers` (`active` | `staged` |
 * `previous` → release id or null), `plan` (`current` → header, `state` → PlanState,
 * `task:<id>` → TaskRecord),
 * `pins` (keyPath `clientId`), `outbox` (auto-increment key → Report).
 * Pointer switches (with the boot watch in `meta`, and on rollback the bad mark and its report),
 * plan replacement and a withdrawal (`dropHeld`: plan, staged pointer and reports) are single transactions: a killed worker leaves either
 * the old or the new state, never half of each. Nothing else is awaited inside a transaction
 * (idb's TL;DR: a transaction commits as soon as it has nothing queued).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ReleaseManifest, Report } from '../protocol/index.js';
import { addBad } from './readiness.js';
import type { BootWatch, Meta, OutboxEntry, Pin, Pointers, StoredPlan, SwStore, TaskRecord } from './store.js';

export const DB_NAME = 'updraft';
export const DB_VERSION = 1;

/**
 * `withdrawn`: the id of the last plan the server withdrew (`dropHeld`). It lives beside the
 * pointers so that `stage` checks it in its own transaction (`releases` + `pointers`) without
 * holding the `plan` store, which the task runner and pages read while an install writes.
 */
type PointerName = keyof Pointers | 'withdrawn';
type PlanHeader = Omit<StoredPlan, 'tasks'>;

/**
 * What changes in a plan header after `putPlan` (`updatePlan`), kept apart from the header: the
 * header embeds the target's whole manifest, so rewriting it for `applied` (the user's "apply")
 * and reading it back at every pass of the task runner cost time in the number of assets. With
 * it apart, the header is written once and read once per plan (then cached), and applying a
 * staged release costs the same for 20 assets as for 2,000. Databases written before it existed
 * have no `state` key: the header's own fields then count.
 */
interface PlanState {
  planId: string;
  /** The header's `receivedAt`: with `planId`, which header this state belongs to. */
  receivedAt: number;
  applied: boolean;
  failure: StoredPlan['failure'];
}

interface UpdraftDB extends DBSchema {
  meta: { key: string; value: unknown };
  releases: { key: string; value: ReleaseManifest };
  pointers: { key: PointerName; value: string | null };
  plan: { key: string; value: PlanHeader | PlanState | TaskRecord };
  pins: { key: string; value: Pin };
  outbox: { key: number; value: Report };
}

const CURRENT = 'current';
const STATE = 'state';
const TASK = 'task:';
/** Every `task:<id>` key (no task id starts with U+FFFF). A function: Node, where tests import this file's neighbours, has no IDBKeyRange. */
const tasksRange = () => IDBKeyRange.bound(TASK, TASK + '\uffff');

export async function openIdbStore(name = DB_NAME): Promise<IdbStore> {
  const db = await openDB<UpdraftDB>(name, DB_VERSION, {
    upgrade(db) {
      db.createObjectStore('meta');
      db.createObjectStore('releases', { keyPath: 'id' });
      db.createObjectStore('pointers');
      db.createObjectStore('plan');
      db.createObjectStore('pins', { keyPath: 'clientId' });
      db.createObjectStore('outbox', { autoIncrement: true });
    },
    // A newer worker opening a newer schema waits until every older connection closes: the worker
    // it replaces lets go of its own, or that install would wait on it for as long as it lives.
    blocking() {
      db.close();
    },
  });
  return new IdbStore(db);
}

export class IdbStore implements SwStore {
  /** The last plan header read or written. A header never changes once put, so it is reused while `state` names it. */
  #header: PlanHeader | null = null;

  constructor(private readonly db: IDBPDatabase<UpdraftDB>) {}

  async getMeta<K extends keyof Meta>(key: K) {
    return (await this.db.get('meta', key)) as Meta[K] | undefined;
  }
  async setMeta<K extends keyof Meta>(key: K, value: Meta[K]) {
    await this.db.put('meta', value, key);
  }

  getRelease(id: string) {
    return this.db.get('releases', id);
  }
  releaseIds() {
    return this.db.getAllKeys('releases');
  }
  async deleteReleases(ids: string[]) {
    const tx = this.db.transaction('releases', 'readwrite');
    await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
  }

  async pointers(): Promise<Pointers> {
    const tx = this.db.transaction('pointers');
    return readPointers(tx.store);
  }

  async installInitial(release: ReleaseManifest) {
    const tx = this.db.transaction(['releases', 'pointers'], 'readwrite');
    void tx.objectStore('releases').put(release);
    const ptr = await readPointers(tx.objectStore('pointers'));
    if (ptr.active === null) {
      ptr.active = release.id;
      void tx.objectStore('pointers').put(release.id, 'active');
    }
    await tx.done;
    return ptr;
  }

  async stage(release: ReleaseManifest, planId?: string) {
    const tx = this.db.transaction(['releases', 'pointers'], 'readwrite');
    const [ptr, withdrawn] = await Promise.all([readPointers(tx.objectStore('pointers')), tx.objectStore('pointers').get('withdrawn')]);
    if (planId !== undefined && withdrawn === planId) {
      await tx.done;
      return ptr;
    }
    void tx.objectStore('releases').put(release);
    ptr.staged = release.id;
    void tx.objectStore('pointers').put(release.id, 'staged');
    await tx.done;
    return ptr;
  }

  async activateStaged(watch = false) {
    const tx = this.db.transaction(['pointers', 'meta'], 'readwrite');
    const pointers = tx.objectStore('pointers');
    const meta = tx.objectStore('meta');
    let ptr = await readPointers(pointers);
    if (ptr.staged !== null) {
      const boot = (await meta.get('boot')) as BootWatch | null | undefined;
      const previous = boot && boot.release === ptr.active ? boot.previous : ptr.active;
      ptr = { previous, active: ptr.staged, staged: null };
      void pointers.put(ptr.previous, 'previous');
      void pointers.put(ptr.active, 'active');
      void pointers.put(null, 'staged');
      const next: BootWatch | null = watch && previous !== null ? { release: ptr.active as string, previous, deadline: null } : null;
      void meta.put(next, 'boot');
    }
    await tx.done;
    return ptr;
  }

  async rollBack(release: string, report: Report, at: number) {
    const tx = this.db.transaction(['pointers', 'meta', 'outbox'], 'readwrite');
    const pointers = tx.objectStore('pointers');
    const meta = tx.objectStore('meta');
    const [ptr, boot, bad] = await Promise.all([
      readPointers(pointers),
      meta.get('boot') as Promise<BootWatch | null | undefined>,
      meta.get('badReleases') as Promise<Meta['badReleases'] | undefined>,
    ]);
    if (!boot || boot.release !== release || ptr.active !== release) {
      await tx.done;
      return null;
    }
    const after: Pointers = { ...ptr, active: boot.previous, previous: null };
    void pointers.put(after.active, 'active');
    void pointers.put(null, 'previous');
    void meta.put(null, 'boot');
    void meta.put(addBad(bad, release, at), 'badReleases');
    void tx.objectStore('outbox').add(report);
    await tx.done;
    return after;
  }

  async startBootClock(release: string, deadline: number) {
    const tx = this.db.transaction('meta', 'readwrite');
    let boot = ((await tx.store.get('boot')) as BootWatch | null | undefined) ?? null;
    if (boot?.release === release && boot.deadline === null) {
      boot = { ...boot, deadline };
      void tx.store.put(boot, 'boot');
    }
    await tx.done;
    return boot;
  }

  async confirmBoot(release: string) {
    const tx = this.db.transaction('meta', 'readwrite');
    const boot = (await tx.store.get('boot')) as BootWatch | null | undefined;
    const hit = boot?.release === release;
    if (hit) void tx.store.put(null, 'boot');
    await tx.done;
    return hit;
  }

  async getPlan(): Promise<StoredPlan | null> {
    const tx = this.db.transaction('plan');
    const [state, keys, values] = await Promise.all([
      tx.store.get(STATE) as Promise<PlanState | undefined>,
      tx.store.getAllKeys(tasksRange()),
      tx.store.getAll(tasksRange()) as Promise<TaskRecord[]>,
    ]);
    let header = this.#header;
    if (!state || !header || !sameHeader(state, header)) {
      header = ((await tx.store.get(CURRENT)) as PlanHeader | undefined) ?? null;
      this.#header = header;
    }
    if (!header || (state && !sameHeader(state, header))) return null;
    const tasks: Record<string, TaskRecord> = {};
    keys.forEach((key, i) => (tasks[key.slice(TASK.length)] = values[i]!));
    const own = state ?? header;
    return { ...header, applied: own.applied, failure: own.failure, tasks };
  }

  async putPlan(stored: StoredPlan) {
    const { tasks, ...header } = stored;
    const state: PlanState = { planId: header.plan.planId, receivedAt: header.receivedAt, applied: header.applied, failure: header.failure };
    const tx = this.db.transaction('plan', 'readwrite');
    void tx.store.clear();
    void tx.store.put(header, CURRENT);
    void tx.store.put(state, STATE);
    for (const t of Object.values(tasks)) void tx.store.put(t, TASK + t.id);
    await tx.done;
    this.#header = header;
  }

  async putTasks(planId: string, tasks: TaskRecord[]) {
    const tx = this.db.transaction('plan', 'readwrite');
    if ((await planState(tx.store))?.planId === planId) for (const t of tasks) void tx.store.put(t, TASK + t.id);
    await tx.done;
  }

  async updatePlan(planId: string, patch: Partial<Pick<StoredPlan, 'applied' | 'failure'>>) {
    const tx = this.db.transaction('plan', 'readwrite');
    const state = await planState(tx.store);
    if (state?.planId === planId) void tx.store.put({ ...state, ...patch }, STATE);
    await tx.done;
  }

  async clearPlan() {
    await this.db.clear('plan');
  }

  async dropHeld(reports: Report[]) {
    const tx = this.db.transaction(['plan', 'pointers', 'outbox'], 'readwrite');
    const held = await planState(tx.objectStore('plan'));
    void tx.objectStore('plan').clear();
    void tx.objectStore('pointers').put(null, 'staged');
    if (held) void tx.objectStore('pointers').put(held.planId, 'withdrawn');
    for (const r of reports) void tx.objectStore('outbox').add(r);
    const ptr = await readPointers(tx.objectStore('pointers'));
    await tx.done;
    return ptr;
  }

  pins() {
    return this.db.getAll('pins');
  }
  async putPin(pin: Pin) {
    await this.db.put('pins', pin);
  }
  async deletePins(clientIds: string[]) {
    const tx = this.db.transaction('pins', 'readwrite');
    await Promise.all([...clientIds.map((id) => tx.store.delete(id)), tx.done]);
  }

  async addReports(reports: Report[]) {
    const tx = this.db.transaction('outbox', 'readwrite');
    await Promise.all([...reports.map((r) => tx.store.add(r)), tx.done]);
  }
  async outbox(limit: number): Promise<OutboxEntry[]> {
    const tx = this.db.transaction('outbox');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(null, limit), tx.store.getAll(null, limit)]);
    return keys.map((id, i) => ({ id, report: values[i] as Report }));
  }
  async deleteOutbox(ids: number[]) {
    const tx = this.db.transaction('outbox', 'readwrite');
    await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
  }
}

function sameHeader(state: PlanState, header: PlanHeader): boolean {
  return state.planId === header.plan.planId && state.receivedAt === header.receivedAt;
}

interface PlanStore {
  get(key: string): Promise<PlanHeader | PlanState | TaskRecord | undefined>;
}

/** The current plan's state: its `state` record, or (a database from before it) the header's fields. */
async function planState(store: PlanStore): Promise<PlanState | null> {
  const state = (await store.get(STATE)) as PlanState | undefined;
  if (state) return state;
  const header = (await store.get(CURRENT)) as PlanHeader | undefined;
  if (!header) return null;
  return { planId: header.plan.planId, receivedAt: header.receivedAt, applied: header.applied, failure: header.failure };
}

interface PointerStore {
  get(key: PointerName): Promise<string | null | undefined>;
}

async function readPointers(store: PointerStore): Promise<Pointers> {
  const [active, staged, previous] = await Promise.all([store.get('active'), store.get('staged'), store.get('previous')]);
  return { active: active ?? null, staged: staged ?? null, previous: previous ?? null };
}
