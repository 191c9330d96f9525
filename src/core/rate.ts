// Bandwidth limits as a person types them: "2MB", "500KiB", "10Mbit", "1.5 MiB/s", "0".
// Decimal prefixes are powers of 1000 and binary ones (Ki, Mi, Gi) powers of 1024, as
// everywhere else; "B"/"byte" (any case) is bytes and "bit"/"bps" is bits (÷ 8). A bare
// number is bytes per second; 0 means no limit (as in Syncthing).

export class RateError extends Error {}

const PREFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 };

/** Bytes per second for a rate written like "2MB" (0 = unlimited); RateError when it does not parse. */
export function parseRate(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RateError(`a rate must be a non-negative number of bytes per second, got ${input}`);
    return Math.floor(input);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|ki|mi|gi)?(b|bytes?|bits?|bps)?\s*(?:\/\s*s(?:ec)?)?\s*$/i.exec(input);
  if (!m) {
    throw new RateError(`"${input}" is not a rate; write it like 2MB, 500KiB or 10Mbit (per second; 0 = no limit)`);
  }
  const value = Number(m[1]);
  const prefix = PREFIX[(m[2] ?? '').toLowerCase()];
  const unit = (m[3] ?? 'b').toLowerCase();
  const bits = unit.startsWith('bit') || unit === 'bps';
  const bytes = Math.floor((value * prefix) / (bits ? 8 : 1));
  if (value > 0 && bytes < 1) throw new RateError(`"${input}" is less than one byte per second`);
  return bytes;
}

/** "1 MB/s" style, for messages. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond === 0) return 'unlimited';
  const units: Array<[number, string]> = [
    [1e9, 'GB/s'],
    [1e6, 'MB/s'],
    [1e3, 'kB/s'],
  ];
  for (const [n, u] of units) if (bytesPerSecond >= n) return `${+(bytesPerSecond / n).toFixed(2)} ${u}`;
  return `${bytesPerSecond} B/s`;
}
