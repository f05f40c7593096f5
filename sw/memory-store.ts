/** `SwStore` in memory. Values are cloned in and out, as IndexedDB does, so tests catch aliasing. */
import type { ReleaseManifest, Report } from '../protocol/index.js';
import type { Meta, OutboxEntry, Pin, Pointers, StoredPlan, SwStore, TaskRecord } from './store.js';

export class MemoryStore implements SwStore {
  private meta = new Map<keyof Meta, unknown>();
  private releases = new Map<string, ReleaseManifest>();
  private ptr: Pointers = { active: null, staged: null, previous: null };
  private plan: Omit<StoredPlan, 'tasks'> | null = null;
  private tasks = new Map<string, TaskRecord>();
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
  async stage(release: ReleaseManifest) {
    this.releases.set(release.id, clone(release));
    this.ptr.staged = release.id;
    return { ...this.ptr };
  }
  async activateStaged() {
    if (this.ptr.staged !== null) this.ptr = { previous: this.ptr.active, active: this.ptr.staged, staged: null };
    return { ...this.ptr };
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
