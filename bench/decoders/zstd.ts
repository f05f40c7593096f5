// Entry for bench/delta-formats.ts: the JS glue a SW would bundle for Zstandard dictionary decoding (the .wasm is counted apart).
import { createDCtx, decompressUsingDict, init } from '@bokuweb/zstd-wasm';
(globalThis as unknown as { apply: unknown }).apply = [init, createDCtx, decompressUsingDict];
