/** `SwStore` in memory. Values are cloned in and out, as IndexedDB does, so tests catch aliasing. */
import type { ReleaseManifest, Report } from '../protocol/index.js';
import { addBad } from './readiness.js';
import type { BootWatch, Meta, OutboxEntry, Pin, Pointers, StoredPlan, SwStore, TaskRecord } from './store.js';

export class MemoryStore implements SwStore {
  private meta = new Map<keyof Meta, unknown>();
  private releases = new Map<string, ReleaseManifest>();
  private ptr: Pointers = { active: null, staged: null, previous: null };
  private plan: Omit<StoredPlan, 'tasks'> | null = null;
  private tasks = new Map<string, TaskRecord>();
  /** The id of the last plan the server withdrew (`dropHeld`): a late `stage` of it stages nothing. */
  private withdrawn: string | null = null;
  private pinMap = new Map<string, Pin>();
  private box = new Map<number, Report>();
  private nextOutboxId = 1;

  async getMeta<K extends keyof Meta>(key: K): Promise<Meta[K] | undefined> {
    return clone(this.meta.get(key) as Meta[K] | undefined);
  }
  async setMeta<K extends keyof Meta>(key: K, value: Meta[K]): Promise<void> {
    this.meta.set(key, clone(value));
  }

  async getRelease(id: string) {
    return clone(this.releases.get(id));
  }
  async releaseIds() {
    return [...this.releases.keys()];
  }
  async deleteReleases(ids: string[]) {
    for (const id of ids) this.releases.delete(id);
  }

  async pointers() {
    return { ...this.ptr };
  }
  async installInitial(release: ReleaseManifest) {
    this.releases.set(release.id, clone(release));
    if (this.ptr.active === null) this.ptr.active = release.id;
    return { ...this.ptr };
  }
  async stage(release: ReleaseManifest, planId?: string) {
    if (planId !== undefined && this.withdrawn === planId) return { ...this.ptr };
    this.releases.set(release.id, clone(release));
    this.ptr.staged = release.id;
    return { ...this.ptr };
  }
  async activateStaged(watch = false) {
    if (this.ptr.staged === null) return { ...this.ptr };
    const boot = this.meta.get('boot') as BootWatch | null | undefined;
    const previous = boot && boot.release === this.ptr.active ? boot.previous : this.ptr.active;
    this.ptr = { previous, active: this.ptr.staged, staged: null };
    const next: BootWatch | null = watch && previous !== null ? { release: this.ptr.active as string, previous, deadline: null } : null;
    this.meta.set('boot', next);
    return { ...this.ptr };
  }
  async rollBack(release: string, report: Report, at: number) {
    const boot = this.meta.get('boot') as BootWatch | null | undefined;
    if (!boot || boot.release !== release || this.ptr.active !== release) return null;
    this.ptr = { ...this.ptr, active: boot.previous, previous: null };
    this.meta.set('boot', null);
    this.meta.set('badReleases', addBad(this.meta.get('badReleases') as Meta['badReleases'] | undefined, release, at));
    this.box.set(this.nextOutboxId++, clone(report));
    return { ...this.ptr };
  }
  async startBootClock(release: string, deadline: number) {
    const boot = this.meta.get('boot') as BootWatch | null | undefined;
    if (!boot || boot.release !== release) return clone(boot ?? null);
    if (boot.deadline === null) this.meta.set('boot', { ...boot, deadline });
    return clone(this.meta.get('boot') as BootWatch);
  }
  async confirmBoot(release: string) {
    const boot = this.meta.get('boot') as BootWatch | null | undefined;
    if (boot?.release !== release) return false;
    this.meta.set('boot', null);
    return true;
  }

  async getPlan(): Promise<StoredPlan | null> {
    if (!this.plan) return null;
    return clone({ ...this.plan, tasks: Object.fromEntries(this.tasks) });
  }
  async putPlan(stored: StoredPlan) {
    const { tasks, ...header } = clone(stored);
    this.plan = header;
    this.tasks = new Map(Object.entries(tasks));
  }
  async putTasks(planId: string, tasks: TaskRecord[]) {
    if (this.plan?.plan.planId !== planId) return;
    for (const t of tasks) this.tasks.set(t.id, clone(t));
  }
  async updatePlan(planId: string, patch: Partial<Pick<StoredPlan, 'applied' | 'failure'>>) {
    if (this.plan?.plan.planId === planId) this.plan = { ...this.plan, ...clone(patch) };
  }
  async clearPlan() {
    this.plan = null;
    this.tasks.clear();
  }
  async dropHeld(reports: Report[]) {
    if (this.plan) this.withdrawn = this.plan.plan.planId;
    this.plan = null;
    this.tasks.clear();
    this.ptr = { ...this.ptr, staged: null };
    for (const r of reports) this.box.set(this.nextOutboxId++, clone(r));
    return { ...this.ptr };
  }

  async pins() {
    return [...this.pinMap.values()].map((p) => ({ ...p }));
  }
  async putPin(pin: Pin) {
    this.pinMap.set(pin.clientId, { ...pin });
  }
  async deletePins(clientIds: string[]) {
    for (const id of clientIds) this.pinMap.delete(id);
  }

  async addReports(reports: Report[]) {
    for (const r of reports) this.box.set(this.nextOutboxId++, clone(r));
  }
  async outbox(limit: number): Promise<OutboxEntry[]> {
    return [...this.box].slice(0, limit).map(([id, report]) => ({ id, report: clone(report) }));
  }
  async deleteOutbox(ids: number[]) {
    for (const id of ids) this.box.delete(id);
  }
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}
