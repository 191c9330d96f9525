// Sizes and times for people: binary units, and dates in the viewer's own time zone.
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n) {
  if (n === null || n === undefined) return '';
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

/** Local date and time, e.g. "1 Dec 2026, 22:14". Accepts ISO strings or epoch ms. */
export function localTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '' : dateTime.format(d);
}

const shortThisYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const shortOtherYear = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** For dense lists: "Dec 1, 9:48 PM" this year, "Dec 1, 2025" before. */
export function shortTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  return d.getFullYear() === new Date().getFullYear() ? shortThisYear.format(d) : shortOtherYear.format(d);
}

export function fullTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '' : full.format(d);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago"; older than a week: the local date. */
export function ago(t, now = Date.now()) {
  if (!t) return 'never';
  const d = new Date(t).getTime();
  const s = Math.round((d - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return rtf.format(s, 'second');
  if (a < 45 * 60) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 22 * 3600) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 7 * 86400) return rtf.format(Math.round(s / 86400), 'day');
  return localTime(t);
}

/** The value of an <input type=datetime-local> (local time) as an ISO instant. */
export function localInputToIso(v) {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function plural(n, one, many = one + 's') {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export function baseName(p) {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

export function parentDir(p) {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** A folder as typed ("/Photos/2026/") in the form the API takes ("Photos/2026"). */
export function folderInput(v) {
  return v.trim().replace(/^\/+|\/+$/g, '');
}
