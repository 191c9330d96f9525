#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm ci` builds it through `prepare`.
import v8 from 'node:v8';

// undici parses HTTP with llhttp compiled to WebAssembly. With V8's default budget its large
// parser function is recompiled by the optimizing tier after a few requests, on a background
// thread, and that compile holds ~30 MB at once: a third of a no-op `sync`'s peak memory, for
// parsing a handful of responses. Ten times the budget leaves llhttp on the baseline tier in
// short commands; a hot loop such as the chunker's gear hash still tiers up within its first
// megabytes (`bench:noop` prints the peak; docs/client.md has the figures). Set before any
// WebAssembly is compiled, hence before the CLI is imported.
v8.setFlagsFromString('--wasm-tiering-budget=20000000');
await import('../dist/cli/main.js');
