// Commands synmac suggests ("next: synmac sync --config …") are meant to be pasted into a
// shell as they are: an argument with spaces or shell characters is single-quoted.
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_./:@%+=,-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
