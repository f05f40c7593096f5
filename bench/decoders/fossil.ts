// Entry for bench/delta-formats.ts: what the SW bundles to apply Fossil deltas.
import { applyDelta } from 'fossil-delta';
(globalThis as unknown as { apply: unknown }).apply = applyDelta;
