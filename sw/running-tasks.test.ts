import { describe, expect, it } from 'vitest';
import { RunningTasks, TaskCancelled } from './running-tasks.js';

describe('RunningTasks', () => {
  it('cancel aborts the plan\'s tasks with TaskCancelled, but for fetches of parts to keep, and no other plan\'s', () => {
    const r = new RunningTasks();
    const a = r.start('p1', 'fetch-0', 'aaa');
    const b = r.start('p1', 'fetch-1', 'bbb');
    const install = r.start('p1', 'install');
    const other = r.start('p2', 'fetch-0', 'aaa');
    expect(r.cancel('p1', 'superseded by p2', new Set(['bbb']))).toBe(2);
    expect([a.aborted, b.aborted, install.aborted, other.aborted]).toEqual([true, false, true, false]);
    expect(a.reason).toBeInstanceOf(TaskCancelled);
    expect(String(a.reason)).toContain('plan p1 superseded by p2');
    // Cancelling again aborts nothing new.
    expect(r.cancel('p1', 'again', new Set(['bbb']))).toBe(0);
  });

  it('a task of a plan cancelled already starts aborted (the runner read the plan just before it went), until the plan is accepted again', () => {
    const r = new RunningTasks();
    r.cancel('p1', 'withdrawn by the server', new Set(['kept']));
    expect(r.start('p1', 'fetch-0', 'aaa').aborted).toBe(true);
    expect(r.start('p1', 'fetch-1', 'kept').aborted).toBe(false);
    r.accepted('p1');
    expect(r.start('p1', 'fetch-2', 'aaa').aborted).toBe(false);
  });

  it('fetching: the end of another plan\'s fetch of the part, while it runs and is not aborted', async () => {
    const r = new RunningTasks();
    r.start('old', 'fetch-3', 'shared');
    expect(r.fetching('shared', 'old')).toBeNull();
    expect(r.fetching('else', 'new')).toBeNull();
    const ended = r.fetching('shared', 'new');
    expect(ended).not.toBeNull();
    let done = false;
    void ended!.then(() => (done = true));
    r.end('old', 'fetch-3');
    await ended;
    expect(done).toBe(true);
    expect(r.fetching('shared', 'new')).toBeNull();
    r.start('old', 'fetch-4', 'shared');
    r.cancel('old', 'withdrawn');
    expect(r.fetching('shared', 'new')).toBeNull();
  });
});
