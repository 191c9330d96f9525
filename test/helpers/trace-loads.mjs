// `node --import ./test/helpers/trace-loads.mjs …` appends to $SYNMAC_TRACE_LOADS every
// module the process loaded: ES modules as the loader sees them, CommonJS ones from the
// require cache at exit. Plain JavaScript: Node loads it before any TypeScript runner.
import fs from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.SYNMAC_TRACE_LOADS;
if (out) {
  register('./trace-loads-hooks.mjs', import.meta.url);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => fs.appendFileSync(out, Object.keys(cache).map((f) => `${f}\n`).join('')));
}
