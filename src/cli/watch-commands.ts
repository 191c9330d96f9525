// `synmac watch`: keep the folder in sync until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { openDevice } from '../client/device.js';
import { summaryLine, addUp, changeLines, conflictLines, totalsJson } from '../client/summary.js';
import { Watcher } from '../client/watcher.js';
import { asCliError, withDevice } from './client-commands.js';
import { askWatcher } from '../client/control-socket.js';
import { writePaused } from '../client/pause-state.js';
import { CliError } from './cli-error.js';
import { localTime, printJson, printJsonLine } from './output.js';
import { downloadRateOpt, rateFlags, uploadRateOpt } from './rate-options.js';

export function registerWatchCommand(program: Command, configOpt: readonly [string, string]): void {
  program
    .command('watch')
    .description('initial sync, then continuous: local file events and server push')
    .option('--allow-mass-delete', 'carry out syncs that delete more than half of the files')
    .option('--debounce <ms>', 'quiet time after a local change before syncing', '30')
    .option('--rescan-interval <seconds>', 'scan the whole folder this often, besides the paths the file watcher reports (0 = only at start and when events may have been lost)', '600')
    .option('--verbose', 'name every file that moved (default: the first 10 per cycle)')
    .option('--json', 'one JSON object per line: {at, event:"log", message} and {at, event:"cycle", ...} (docs/client.md)')
    .option(...uploadRateOpt)
    .option(...downloadRateOpt)
    .option(...configOpt)
    .action(async (o) => {
      const rescan = Number(o.rescanInterval);
      if (!Number.isFinite(rescan) || rescan < 0) throw new CliError(`--rescan-interval must be a number of seconds (0 or more), not ${JSON.stringify(o.rescanInterval)}`);
      let device;
      try {
        device = openDevice(o.config, rateFlags(o));
      } catch (err) {
        throw asCliError(err);
      }
      // Local time for the person reading along; ISO-8601 UTC in the JSON lines.
      const log = (s: string) =>
        o.json ? printJsonLine({ at: Date.now(), event: 'log', message: s }) : process.stdout.write(`${localTime(Date.now())} ${s}\n`);
      const watcher = new Watcher(device, {
        debounceMs: Number(o.debounce),
        rescanMs: rescan * 1000,
        allowMassDelete: !!o.allowMassDelete,
        log,
        onCycle: (r) => {
          if (!r.changed && !r.conflicts.length && !r.receivedConflicts.length) return;
          const t = addUp([r], r.durationMs);
          if (o.json) return printJsonLine({ at: Date.now(), event: 'cycle', scan: r.scan, ...totalsJson(t) });
          for (const line of changeLines(t, o.verbose ? Infinity : 10)) log(line);
          log(summaryLine(t));
          for (const line of conflictLines(r)) log(line);
        },
      });
      try {
        await watcher.start();
      } catch (err) {
        await device.close();
        throw asCliError(err);
      }
      const stop = () => {
        log('stopping after the current file…');
        void watcher.stop();
      };
      // Before the "watching" line: whoever reads it (a service manager, a test) may signal at
      // once, and a SIGTERM arriving before a listener exists kills the process uncleanly.
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      log(`watching ${device.config.folder} (${device.config.deviceName} → ${device.config.server}); Ctrl-C to stop`);
      await watcher.finished;
      await device.close();
      if (watcher.fatal) throw asCliError(watcher.fatal);
      log('stopped');
    });

  for (const cmd of ['pause', 'resume'] as const) {
    program
      .command(cmd)
      .description(cmd === 'pause' ? 'the watcher keeps watching but syncs nothing until `synmac resume` (lasts across restarts)' : 'the watcher syncs again (catching up at once)')
      .option('--json', 'machine-readable output')
      .option(...configOpt)
      .action(async (o) => {
        await withDevice(o.config, async (device) => {
          const answer = await askWatcher(device.stateDir, { cmd }, { timeoutMs: 10_000 });
          if (answer && !answer.ok) throw new CliError(answer.error.message);
          // no watcher: remember it, the next `watch` (the background service) starts that way
          if (!answer) writePaused(device.stateDir, cmd === 'pause');
          const pid = answer ? (answer.status as { pid: number }).pid : null;
          if (o.json) return printJson({ paused: cmd === 'pause', watcher_running: answer !== null, watcher_pid: pid });
          const what = cmd === 'pause' ? 'paused: it keeps watching and syncs nothing until `synmac resume`' : 'resumed: it syncs again';
          process.stdout.write(
            answer
              ? `watcher (pid ${pid}) ${what}\n`
              : `no watcher is running; ${cmd === 'pause' ? 'the next `synmac watch` starts paused (until `synmac resume`)' : 'the next `synmac watch` syncs as usual'}\n`,
          );
        });
      });
  }
}
