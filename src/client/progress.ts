// Progress bars for transfers that take longer than a second, on a terminal only: a
// log file or a pipe gets the summary line and nothing else.
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';
import { formatBytes } from './summary.js';

export interface ProgressSink {
  onProgress(p: { phase: 'upload' | 'download'; doneBytes: number; totalBytes: number }): void;
  stop(): void;
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (!stream.isTTY) return { onProgress() {}, stop() {} };
  // Loaded only for a terminal: a pipe or a log file never needs it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;
  const started = new Map<string, number>();
  let bar: cliProgressTypes.SingleBar | null = null;
  let phase = '';
  return {
    onProgress(p) {
      const now = Date.now();
      if (!started.has(p.phase)) started.set(p.phase, now);
      if (phase !== p.phase && bar) {
        bar.stop();
        bar = null;
      }
      if (!bar) {
        if (now - started.get(p.phase)! < 1000 || p.doneBytes >= p.totalBytes) return;
        phase = p.phase;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${p.phase === 'upload' ? '↑' : '↓'} {bar} {percentage}% {sent} of {size}`,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        // (`total` and `value` are the bar's own tokens: the human sizes need other names)
        bar.start(p.totalBytes, p.doneBytes, { sent: formatBytes(p.doneBytes), size: formatBytes(p.totalBytes) });
      }
      bar.update(p.doneBytes, { sent: formatBytes(p.doneBytes), size: formatBytes(p.totalBytes) });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
