// npm run soak -- --runs 10000 [--profile in-process|process|postgres] [--mac A|B|C] [--max-commands 24] [--out soak-failures.json]
// Runs the model-based sync test (test/model/sync-model.ts) for many more scenarios than
// `npm test` does, and appends every failure (seed, path, message) to a JSON file so it can
// be replayed and turned into a regression test.
import fs from 'node:fs';
import fc from 'fast-check';
import { scenarioProperty, type Profile } from '../test/model/sync-model.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const runs = Number(arg('runs', '1000'));
const profile = arg('profile', 'in-process') as Profile;
const maxCommands = Number(arg('max-commands', '24'));
// --mac C: that device's folder is the case-insensitive, NFD-normalizing one (as in `npm test`).
const mac = arg('mac', '');
const out = arg('out', 'soak-failures.json');
const batch = 100;

let done = 0;
let failures = 0;
const started = Date.now();
while (done < runs) {
  const n = Math.min(batch, runs - done);
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  const res = await fc.check(scenarioProperty(profile, maxCommands, mac ? { mac: mac as 'A' | 'B' | 'C' } : {}), { numRuns: n, seed });
  done += res.numRuns;
  if (res.failed) {
    failures++;
    const entry = {
      when: new Date().toISOString(),
      profile,
      seed: res.seed,
      path: res.counterexamplePath,
      counterexample: res.counterexample?.map(String),
      error: String((res.errorInstance as Error | undefined)?.message ?? res.errorInstance).slice(0, 4000),
    };
    const all = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : [];
    all.push(entry);
    fs.writeFileSync(out, `${JSON.stringify(all, null, 2)}\n`);
    console.log(`FAIL (seed ${res.seed}) written to ${out}:\n${entry.error}`);
  }
  console.log(`${done}/${runs} scenarios, ${failures} failing batches, ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
process.exitCode = failures > 0 ? 1 : 0;
