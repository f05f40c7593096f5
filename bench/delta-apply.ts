// Applying a Fossil delta in the worker: `fossil-delta`'s own `applyDelta` (the baseline, which
// builds its output a byte at a time in a JS array) against the worker's decoder (sw/apply-delta.ts,
// one buffer filled by `set`), on the same deltas in the same run. The worker's thread answers no
// page request while a delta applies. Ends with `delta-apply fossil-delta/updraft=R` (R > 1: the
// worker's decoder is R times as fast), for the largest part.
import { applyDelta as fossilApply, createDelta } from 'fossil-delta';
import { applyDelta } from '../sw/apply-delta.js';

// Code-like text of about `bytes`, deterministic; `edit` changes one line in every 4,000.
const code = (bytes: number, edit: number) => {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const line = `export function f${i}(a, b) { return a * ${i % 97} + b - ${(i * 7919) % 1000}${i % 4000 === 17 ? ` + ${edit}` : ''}; }\n`;
    lines.push(line);
    n += line.length;
  }
  return new TextEncoder().encode(lines.join(''));
};

const median = (f: () => unknown, reps: number) => {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)]!;
};

let ratio = 0;
for (const [label, bytes, reps] of [['64 KiB', 64 * 1024, 41], ['1 MiB', 1024 * 1024, 15], ['8 MiB', 8 * 1024 * 1024, 7]] as const) {
  const [base, target] = [code(bytes, 1), code(bytes, 2)];
  const delta = createDelta(base, target);
  const ours = applyDelta(base, delta, target.byteLength);
  if (Buffer.compare(Buffer.from(ours), Buffer.from(target)) !== 0) throw new Error(`the worker's decoder built other bytes (${label})`);
  if (Buffer.compare(Buffer.from(fossilApply(base, delta)), Buffer.from(target)) !== 0) throw new Error(`fossil-delta built other bytes (${label})`);
  const [fossilMs, oursMs] = [median(() => fossilApply(base, delta), reps), median(() => applyDelta(base, delta, target.byteLength), reps)];
  ratio = fossilMs / oursMs;
  console.log(`${label} part, ${delta.byteLength} B delta: fossil-delta ${fossilMs.toFixed(2)} ms, updraft ${oursMs.toFixed(2)} ms (median of ${reps})`);
}
console.log(`delta-apply fossil-delta/updraft=${ratio.toFixed(1)}`);
