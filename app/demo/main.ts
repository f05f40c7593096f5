import { registerUpdraft, UpdraftError, type UpdraftEvent } from '../index.js';
import './style.css';

// The e2e tests' broken release (UPDRAFT_DEMO_BROKEN): the entry throws before anything renders
// or calls ready(), as a bad deploy would. Updraft must roll it back.
if (__DEMO_BROKEN__) throw new Error('demo: this build is broken on purpose (UPDRAFT_DEMO_BROKEN)');

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el;
};

const status = (text: string) => void ($('status').textContent = text);

function kB(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

/** The toast's text for each event; `wake-at` is internal plumbing and shows nothing. */
function toastText(e: UpdraftEvent): string | null {
  switch (e.name) {
    case 'update-available':
      return `Version ${e.version} is available: downloading ${e.partsTotal} parts (${kB(e.bytesTotal)})…`;
    case 'progress':
      return `Downloading the update: ${e.partsDone}/${e.partsTotal} parts, ${kB(e.bytesDone)} of ${kB(e.bytesTotal)}`;
    case 'update-ready':
      return e.policy === 'prompt' ? `Version ${e.version} is ready.` : `Version ${e.version} is ready: it starts on your next visit.`;
    case 'activated':
      return e.policy === 'immediate' ? `Version ${e.version} is active: reloading…` : `Version ${e.version} is active: reload to use it.`;
    case 'failed':
      return `The update failed (${e.code}): ${e.message}`;
    case 'rolled-back':
      return `Version ${e.version} did not start: back to the previous version on your next visit.`;
    case 'withdrawn':
      return 'The update was withdrawn: you stay on this version.';
    case 'wake-at':
    case 'check-in-at':
      return null;
  }
}

function showToast(e: UpdraftEvent): void {
  const text = toastText(e);
  if (text === null) return;
  const toast = $('toast');
  toast.dataset.event = e.name;
  $('toast-text').textContent = text;
  $('apply').hidden = !(e.name === 'update-ready' && e.policy === 'prompt');
  toast.hidden = false;
}

$('version').textContent = __DEMO_VERSION__;

const updraft = registerUpdraft();
window.updraft = updraft;

for (const name of ['update-available', 'progress', 'update-ready', 'activated', 'failed', 'rolled-back', 'withdrawn'] as const) {
  updraft.on(name, showToast);
}

updraft.controlled.then(
  async () => {
    status('Service worker: controlling this page');
    try {
      const hello = await updraft.release();
      $('release').textContent = hello.release ?? 'none';
    } catch (error) {
      $('release').textContent = 'unknown';
      status(`Service worker: no answer (${String(error)})`);
    }
  },
  (error: unknown) => {
    $('release').textContent = 'none';
    // A hard reload: the worker is there, and the next ordinary visit is controlled.
    const bypassed = error instanceof UpdraftError && error.code === 'uncontrolled';
    status(`Service worker: ${bypassed ? 'not controlling this page' : 'unavailable'} (${String(error)})`);
  },
);

// The page rendered: confirm the release that served it. One that never gets here is rolled back.
updraft.ready().then(
  // For the e2e tests: what the SW made of it.
  (reply) => void (document.documentElement.dataset.updraftReady = reply.result),
  (error: unknown) => status(`Service worker: ready() failed (${String(error)})`),
);

$('check').addEventListener('click', async () => {
  status('Checking for updates…');
  try {
    const reply = await updraft.checkNow();
    if (reply.result === 'current') status('Up to date');
    else if (reply.result === 'update') status(`Update found: release ${reply.release}`);
    else if (reply.result === 'retry') status(`Server busy: retrying at ${new Date(reply.retryAt).toLocaleTimeString()}`);
    else status(`Check failed (${reply.code}): ${reply.message}`);
  } catch (error) {
    status(`Check failed: ${String(error)}`);
  }
});

$('apply').addEventListener('click', () => {
  $('apply').hidden = true;
  $('toast-text').textContent = 'Applying the update…';
  updraft.applyUpdate().catch((error: unknown) => status(`Apply failed: ${String(error)}`));
});

$('load-about').addEventListener('click', async () => {
  try {
    const { renderAbout } = await import('./about.js');
    renderAbout($('lazy'));
  } catch (error) {
    $('lazy').textContent = `Could not load the about page: ${String(error)}`;
  }
});
