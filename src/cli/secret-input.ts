// Reads one secret line: typed without echo on a terminal, or the first line of stdin when
// it is a pipe (`printf '%s\n' "$PW" | synmac server set-console-password`).
let piped: Promise<string[]> | null = null;

function pipedLines(): Promise<string[]> {
  piped ??= new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => (data += d));
    process.stdin.on('end', () => resolve(data.split(/\r?\n/)));
    process.stdin.on('error', reject);
  });
  return piped;
}

export async function readSecretLine(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return (await pipedLines())[0] ?? '';
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(line);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new Error('interrupted'));
          }
          if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
          else line += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}
