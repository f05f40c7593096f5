/**
 * The update path under attack, in Chromium. Every e2e build trusts the key global setup made
 * (`E2E_KEY_BASE`); the harness signs with it. Attacks come from a network in the middle
 * (`context.route` sees the service worker's requests) or from a server holding the wrong key.
 * Each refused plan must leave the page on its running release, reported with its code.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from '@playwright/test';
import * as v from 'valibot';
import {
  CheckInResponse, expandPlan, PLAN_DOC_PATH, PlanDocument, planDocPath, planFromRef, planStatement, sha256Hex,
  type CheckInUpdate, type CompactFetch, type ErrorCode, type PlanRef, type ReleaseManifest,
} from '../protocol/index.js';
import { createPlanSigner, generateSigningKey, loadSigningKey } from '../server/index.js';
import { expect, test, type UpdraftDriver } from './kit/index.js';
import { E2E_KEY_BASE } from './support/builds.js';
import { visitV1 } from './support/fault-kit.js';
import { Harness } from './support/harness.js';

/**
 * Answers the worker's next check-ins with `edit(the server's answer)`, parsed by the protocol's
 * schema: a plan's task list as `tasks` (the form its signatures cover), sent on in that form.
 * An answer by reference is first joined with its document, as the worker would: a network in
 * the middle may answer inline though the worker asked for plans by reference, and it does.
 */
async function rewriteCheckIns(context: BrowserContext, h: Harness, edit: (answer: CheckInResponse) => CheckInResponse | Promise<CheckInResponse>) {
  await rewriteWire(context, h, async (raw) => edit(await inline(h, v.parse(CheckInResponse, raw))));
}

/** `answer` with its plan inline: an answer by reference joined with the document it names, fetched from the server. */
async function inline(h: Harness, answer: CheckInResponse): Promise<CheckInResponse> {
  if (answer.status !== 'update-ref') return answer;
  const doc = v.parse(PlanDocument, await (await fetch(new URL(answer.ref.doc, h.url))).json());
  const plan = planFromRef(answer.ref, doc);
  if (typeof plan === 'string') throw new Error(plan);
  const { ref: _ref, ...rest } = answer;
  return { ...rest, status: 'update', plan };
}

/** A check-in answer as the server sent it: to this worker, which says `caps.planRefs`, an update names its plan document. */
type WireAnswer = { status: string; ref?: PlanRef; plan?: { fetch?: CompactFetch; tasks?: unknown } };

/** As `rewriteCheckIns`, on the answer as the server wrote it. */
async function rewriteWire(context: BrowserContext, h: Harness, edit: (answer: WireAnswer) => unknown) {
  await context.route(`${h.url}v1/check-in`, async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: await edit((await res.json()) as WireAnswer) });
  });
}

/**
 * An answer by reference pointed at another plan document: the server's, edited by `edit`, served
 * by the network in the middle under the name of its new hash (or, `rename: false`, its old one).
 */
async function swapDocument(context: BrowserContext, h: Harness, edit: (doc: PlanDocument) => PlanDocument, o: { rename: boolean } = { rename: true }): Promise<() => number> {
  let swapped = 0;
  await rewriteWire(context, h, async (a) => {
    if (a.status !== 'update-ref' || !a.ref) return a;
    const edited = edit(v.parse(PlanDocument, await (await fetch(new URL(a.ref.doc, h.url))).json()));
    const doc = JSON.stringify(edited);
    const [, app, channel] = PLAN_DOC_PATH.exec(a.ref.doc)!;
    const path = o.rename ? planDocPath(app!, channel!, edited.from, edited.to, await sha256Hex(doc)) : a.ref.doc;
    await context.route(new URL(path, h.url).href, (route) => route.fulfill({ body: doc, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' } }));
    swapped++;
    return { ...a, ref: { ...a.ref, doc: path } };
  });
  return () => swapped;
}

/** The plan was refused with `code`: the check says so, nothing is stored, the server got the report, the page still runs `running`. */
async function expectRefused(page: Page, updraft: UpdraftDriver, h: Harness, running: ReleaseManifest, target: string, code: ErrorCode) {
  expect(await updraft.checkNow()).toMatchObject({ result: 'error', code });
  await updraft.sync();
  const s = await updraft.state();
  expect(s.active).toBe(running.id);
  expect(s.staged).toBeNull();
  if (s.plan) expect(s.plan.to).toBe(running.id);
  await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === target && r.event === 'failed').map((r) => r.code)).toEqual([code]);
  await page.reload();
  await expect(page.locator('#version')).toHaveText(running.version);
  await page.locator('#load-about').click();
  await expect(page.locator('#lazy')).toHaveAttribute('data-version', running.version);
}

test('a tampered plan (an extra source, another manifest) is refused with `signature`; nothing is fetched from the attacker', async ({ page, context, updraft }) => {
  // Updates by reference, so the plan document can be attacked too.
  const h = await Harness.start({ planRefMinBytes: 0 });
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const evil = 'http://127.0.0.1:9/evil/';
    let evilRequests = 0;
    await context.route(`${evil}**`, (route) => {
      evilRequests++;
      return route.abort();
    });
    // The plan as the server sends it to this worker (by reference), its document with the
    // attacker's base first, served under the name of its new hash.
    const swapped = await swapDocument(context, h, (d) => ({ ...d, fetch: { ...d.fetch, bases: [evil, ...d.fetch.bases] } }));
    await expectRefused(page, updraft, h, v1, v2.id, 'signature');
    expect(swapped()).toBeGreaterThan(0);
    // Served under its old name, the same document does not even get that far: wrong bytes.
    await context.unrouteAll({ behavior: 'wait' });
    await swapDocument(context, h, (d) => ({ ...d, fetch: { ...d.fetch, bases: [evil, ...d.fetch.bases] } }), { rename: false });
    expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'content' });
    expect((await updraft.state()).plan?.to ?? null).not.toBe(v2.id);
    // After a document failed, the worker asks for its next plan inline (no `planRefs`) and gets
    // the compact form, with the attacker's base first; then the full form (workers before 0.3):
    // an extra source on every fetch task.
    await context.unrouteAll({ behavior: 'wait' });
    let compact = 0;
    await rewriteWire(context, h, (a) => {
      if (a.status !== 'update' || !a.plan?.fetch) return a;
      compact++;
      return { ...a, plan: { ...a.plan, fetch: { ...a.plan.fetch, bases: [evil, ...a.plan.fetch.bases] } } };
    });
    expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'signature' });
    expect(compact).toBe(1);
    const asked = (h.checkIns.at(-1)!.body as { caps: Record<string, unknown> }).caps;
    expect([asked.compactPlans, asked.planRefs]).toEqual([true, undefined]);
    await context.unrouteAll({ behavior: 'wait' });
    await rewriteCheckIns(context, h, (a) => {
      if (a.status !== 'update') return a;
      const tasks = a.plan.tasks.map((t) => (t.kind === 'fetch' ? { ...t, sources: [`${evil}${t.sha256}`, ...t.sources] } : t));
      return { ...a, plan: { ...a.plan, tasks } };
    });
    expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'signature' });
    expect(evilRequests).toBe(0);
    expect(h.cdn!.traffic.count(/./)).toBe(0);

    // Another manifest under the same signatures: a changed entry document.
    await context.unrouteAll({ behavior: 'wait' });
    await rewriteCheckIns(context, h, (a) => {
      if (a.status !== 'update') return a;
      // The client runs 1.0.0, which the server knows: the manifest comes as a patch to it.
      expect(a.plan.releasePatch?.base).toBe(v1.id);
      return { ...a, plan: { ...a.plan, releasePatch: { ...a.plan.releasePatch!, version: '2.0.0-evil' } } };
    });
    expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'signature' });

    // The genuine plan still lands.
    await context.unrouteAll({ behavior: 'wait' });
    await updraft.updateTo(v2.id);
  } finally {
    await h.close();
  }
});

test('a replayed older plan is refused with `downgrade` once the client runs a newer release', async ({ page, context, updraft }) => {
  const h = await Harness.start();
  try {
    await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    // An attacker records the genuine, validly signed answer moving clients to 2.0.0 ...
    let recorded: CheckInUpdate | null = null;
    await rewriteCheckIns(context, h, (a) => {
      if (a.status === 'update') recorded = a;
      return a;
    });
    await updraft.updateTo(v2.id);
    await context.unrouteAll({ behavior: 'wait' });
    const v3 = await h.publish('3.0.0');
    await updraft.updateTo(v3.id);
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('3.0.0');
    // ... and replays it later, to hold clients on the old release (with a known bug, say).
    expect(recorded).not.toBeNull();
    await rewriteCheckIns(context, h, () => recorded!);
    await expectRefused(page, updraft, h, v3, v2.id, 'downgrade');
  } finally {
    await h.close();
  }
});

test('a fresh device (its release from the first visit, no sequence known yet) refuses a signed plan issued for another release: no downgrade by replay', async ({ page, context, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await h.publish('1.0.0');
    const v2 = await h.publish('2.0.0');
    // Anyone can ask the server for a plan: an attacker checks in as a device on 1.0.0 (saying
    // what a worker of protocol 0.6 says, `swIds`) and keeps the validly signed answer, to 2.0.0
    // (a release with a known bug, say).
    const res = await fetch(new URL('v1/check-in', h.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client: 'attacker-0001', app: v1.app, channel: 'stable', release: v1.id, caps: { sync: false, periodicSync: false, swIds: true } }),
    });
    const answer = v.parse(CheckInResponse, await res.json());
    if (answer.status !== 'update') throw new Error(`expected an update, got ${answer.status}`);
    expect(answer.plan.to).toBe(v2.id);
    // Its manifest came as a patch to 1.0.0's, which a device on 3.0.0 lacks: the attacker sends it
    // whole (manifests are public), which the signatures cover all the same.
    const { releasePatch: _patch, ...whole } = expandPlan(answer.plan, v1)!;
    const captured: CheckInResponse = { ...answer, plan: whole };
    const v3 = await h.publish('3.0.0');
    // A fresh device: its first visit installs 3.0.0 from the build's manifest, with no sequence.
    await page.goto(h.url);
    await updraft.waitForRelease(v3.id);
    // Within the plan's lifetime the attacker answers its check-in with the captured plan.
    await rewriteCheckIns(context, h, () => captured);
    await expectRefused(page, updraft, h, v3, v2.id, 'downgrade');
  } finally {
    await h.close();
  }
});

test('a downgrade without a rollback directive is refused; the server\'s signed rollback is followed', async ({ page, context, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    await updraft.updateTo(v2.id);
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('2.0.0');
    await h.rollout({ release: v1.id }); // the channel goes back to 1.0.0: the server signs a rollback directive
    // Someone holding the signing key (a leaked CI secret, a buggy signing path) drops the directive.
    const signer = createPlanSigner([await loadSigningKey(readFileSync(`${E2E_KEY_BASE}.key`, 'utf8'))])!;
    await rewriteCheckIns(context, h, (a) => {
      if (a.status !== 'update') return a;
      expect(a.plan.rollback).toBe(true);
      const plan = { ...a.plan, rollback: false };
      return { ...a, plan: { ...plan, signatures: signer(planStatement(expandPlan(plan, v2)!)) } };
    });
    await expectRefused(page, updraft, h, v2, v1.id, 'downgrade');
    await context.unrouteAll({ behavior: 'wait' });
    await updraft.updateTo(v1.id);
  } finally {
    await h.close();
  }
});

test('an expired plan (a server clock three days behind: a frozen or replayed answer) is refused with `plan_expired`', async ({ page, updraft }) => {
  const h = await Harness.start({ now: () => Date.now() - 3 * 86_400_000 });
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    await expectRefused(page, updraft, h, v1, v2.id, 'plan_expired');
    expect(h.cdn!.traffic.count(/./)).toBe(0);
  } finally {
    await h.close();
  }
});

test('plans signed by a key the worker does not trust, or not signed at all, are refused with `signature`', async ({ page, updraft }) => {
  const stranger = await generateSigningKey();
  const h = await Harness.start({ signingKeys: [stranger.privatePem] });
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    await expectRefused(page, updraft, h, v1, v2.id, 'signature');
    expect((await updraft.state()).log.join('\n')).toContain(stranger.keyId);
  } finally {
    await h.close();
  }
  const unsigned = await Harness.start({ signingKeys: [] });
  try {
    const v1 = await visitV1(page, updraft, unsigned);
    const v2 = await unsigned.publish('2.0.0');
    expect(await updraft.checkNow()).toMatchObject({ result: 'error', code: 'signature', message: 'plan is not signed, and this worker was built with publicKeys: start the update server with the matching --signing-key' });
    expect((await updraft.state()).active).toBe(v1.id);
    await expect.poll(async () => (await unsigned.status()).reportCounts.filter((r) => r.release === v2.id && r.event === 'failed').map((r) => r.code)).toEqual(['signature']);
  } finally {
    await unsigned.close();
  }
});

test('a part served larger than its signed size is cut off and rejected; the next source serves it and the update lands', async ({ page, context, updraft }) => {
  const h = await Harness.start();
  try {
    const v1 = await visitV1(page, updraft, h);
    const v2 = await h.publish('2.0.0');
    const have = new Set(v1.assets.map((a) => a.sha256));
    const part = v2.assets.find((a) => !have.has(a.sha256))!;
    let served = 0;
    await context.route(`${h.cdn!.url}v1/blobs/${part.sha256}`, (route) => {
      served++;
      return route.fulfill({ status: 200, body: Buffer.alloc(part.size + 8 * 1024 * 1024, 0x41), headers: { 'access-control-allow-origin': '*' } });
    });
    await updraft.updateTo(v2.id);
    expect(served).toBe(1);
    expect(h.traffic.count(`/v1/blobs/${part.sha256}`)).toBe(1);
    await expect.poll(async () => (await h.status()).reportCounts.filter((r) => r.release === v2.id && r.event === 'rejected').map((r) => r.code)).toEqual(['content']);
    await page.goto(h.url);
    await expect(page.locator('#version')).toHaveText('2.0.0');
  } finally {
    await h.close();
  }
});
