// Client-side routes live in the URL fragment: #/devices, #/files/Some/Dir, ...
import { signal } from './html.js';

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [page, ...rest] = raw.split('/');
  let arg = '';
  try {
    arg = rest.map(decodeURIComponent).join('/');
  } catch {
    arg = '';
  }
  return { page: page || 'overview', arg };
}

export const route = signal(parse());
addEventListener('hashchange', () => (route.value = parse()));

/** The fragment for a page and an optional path argument (each segment encoded). */
export function href(page, arg = '') {
  return '#/' + page + (arg ? '/' + arg.split('/').map(encodeURIComponent).join('/') : '');
}

export function go(page, arg = '') {
  location.hash = href(page, arg);
}
