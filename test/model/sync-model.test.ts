// The model-based randomized test in `npm test`: MODEL_RUNS scenarios (default 200) with the
// server in-process, a smaller number with the server as a real process that is SIGKILLed
// on restart, MODEL_MAC_RUNS (default 20) with device C on a Mac-like folder, and MODEL_PG_RUNS
// (default 25) with the server on PostgreSQL. Replay a failure with MODEL_SEED=<seed> MODEL_PATH=<path> (fast-check
// prints both); more runs: `npm run soak -- --runs 10000`.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { hasPostgres } from '../helpers/postgres.js';
import { scenarioProperty } from './sync-model.js';

const RUNS = Number(process.env.MODEL_RUNS ?? 200);
const PROCESS_RUNS = Number(process.env.MODEL_PROCESS_RUNS ?? 15);
const PG_RUNS = Number(process.env.MODEL_PG_RUNS ?? 25);
const MAC_RUNS = Number(process.env.MODEL_MAC_RUNS ?? 20);
const seed = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined;
const replayPath = process.env.MODEL_PATH;

describe('model-based sync (3 devices, random operations, crashes, restarts)', () => {
  it(`${RUNS} scenarios with the server in-process`, { timeout: 600_000 }, async () => {
    await fc.assert(scenarioProperty('in-process', 24), { numRuns: RUNS, seed, path: replayPath, endOnFailure: !!process.env.CI });
  });

  it(`${PROCESS_RUNS} scenarios with the server as a real process (restart = SIGKILL)`, { timeout: 600_000 }, async () => {
    await fc.assert(scenarioProperty('process', 24), { numRuns: PROCESS_RUNS, seed, path: replayPath, endOnFailure: !!process.env.CI });
  });

  // Device C on a Mac-like folder (case- and normalization-insensitive, as APFS): the
  // model's paths include a case pair (a.txt, A.txt) and NFC/NFD names.
  it(`${MAC_RUNS} scenarios with one device on a Mac-like folder`, { timeout: 600_000 }, async () => {
    await fc.assert(scenarioProperty('in-process', 24, { mac: 'C' }), { numRuns: MAC_RUNS, seed, path: replayPath, endOnFailure: !!process.env.CI });
  });

  // The engine users grow onto: the same scenarios against PostgreSQL (a database each).
  it.skipIf(!hasPostgres)(`${PG_RUNS} scenarios with the server on PostgreSQL`, { timeout: 600_000 }, async () => {
    await fc.assert(scenarioProperty('postgres', 24), { numRuns: PG_RUNS, seed, path: replayPath, endOnFailure: !!process.env.CI });
  });
});
