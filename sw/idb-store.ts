/**
 * `SwStore` on IndexedDB (database `updraft`, version 1) through `idb`.
 *
 * Stores: `meta` (key → value), `releases` (keyPath `id`), `pointers` (`active` | `staged` |
 * `previous` → release id or null), `plan` (`current` → header, `task:<id>` → TaskRecord),
 * `pins` (keyPath `clientId`), `outbox` (auto-increment key → Report).
 * Pointer switches (with the boot watch in `meta`, and on rollback the bad mark and its report) and
 * plan replacement are single transactions: a killed worker leaves either
 * the old or the new state, never half of each. Nothing else is awaited inside a transaction
 * (idb's TL;DR: a transaction commits as soon as it has nothing queued).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ReleaseManifest, Report } from '../protocol/index.js';
import { addBad } from './readiness.js';
import type { BootWatch, Meta, OutboxEntry, Pin, Pointers, StoredPlan, SwStore, TaskRecord } from './store.js';

export const DB_NAME = 'updraft';
export const DB_VERSION = 1;

type PointerName = keyof Pointers;
type PlanHeader = Omit<StoredPlan, 'tasks'>;

interface UpdraftDB extends DBSchema {
  meta: { key: string; value: unknown };
  releases: { key: string; value: ReleaseManifest };
  pointers: { key: PointerName; value: string | null };
  plan: { key: string; value: PlanHeader | TaskRecord };
  pins: { key: string; value: Pin };
  outbox: { key: number; value: Report };
}

const CURRENT = 'current';
const TASK = 'task:';

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
  });
  return new IdbStore(db);
}

export class IdbStore implements SwStore {
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

  async stage(release: ReleaseManifest) {
    const tx = this.db.transaction(['releases', 'pointers'], 'readwrite');
    void tx.objectStore('releases').put(release);
    const ptr = await readPointers(tx.objectStore('pointers'));
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
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    let header: PlanHeader | null = null;
    const tasks: Record<string, TaskRecord> = {};
    keys.forEach((key, i) => {
      const value = values[i];
      if (key === CURRENT) header = value as PlanHeader;
      else if (key.startsWith(TASK)) tasks[key.slice(TASK.length)] = value as TaskRecord;
    });
    return header ? { ...(header as PlanHeader), tasks } : null;
  }

  async putPlan(stored: StoredPlan) {
    const { tasks, ...header } = stored;
    const tx = this.db.transaction('plan', 'readwrite');
    void tx.store.clear();
    void tx.store.put(header, CURRENT);
    for (const t of Object.values(tasks)) void tx.store.put(t, TASK + t.id);
    await tx.done;
  }

  async putTasks(planId: string, tasks: TaskRecord[]) {
    const tx = this.db.transaction('plan', 'readwrite');
    const header = (await tx.store.get(CURRENT)) as PlanHeader | undefined;
    if (header?.plan.planId === planId) for (const t of tasks) void tx.store.put(t, TASK + t.id);
    await tx.done;
  }

  async updatePlan(planId: string, patch: Partial<Pick<StoredPlan, 'applied' | 'failure'>>) {
    const tx = this.db.transaction('plan', 'readwrite');
    const header = (await tx.store.get(CURRENT)) as PlanHeader | undefined;
    if (header?.plan.planId === planId) void tx.store.put({ ...header, ...patch }, CURRENT);
    await tx.done;
  }

  async clearPlan() {
    await this.db.clear('plan');
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

interface PointerStore {
  get(key: PointerName): Promise<string | null | undefined>;
}

async function readPointers(store: PointerStore): Promise<Pointers> {
  const [active, staged, previous] = await Promise.all([store.get('active'), store.get('staged'), store.get('previous')]);
  return { active: active ?? null, staged: staged ?? null, previous: previous ?? null };
}
