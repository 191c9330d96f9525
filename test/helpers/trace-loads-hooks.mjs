// Loader hooks for trace-loads.mjs: record each ES module URL as it loads.
import fs from 'node:fs';

export async function load(url, context, next) {
  fs.appendFileSync(process.env.SYNMAC_TRACE_LOADS, `${url}\n`);
  return next(url, context);
}
