import { registerUpdraft, type UpdraftEvent } from '../index.js';
import './style.css';

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
    case 'wake-at':
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

for (const name of ['update-available', 'progress', 'update-ready', 'activated', 'failed'] as const) {
  updraft.on(name, showToast);
}

updraft.ready.then(
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
    status(`Service worker: unavailable (${String(error)})`);
  },
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
