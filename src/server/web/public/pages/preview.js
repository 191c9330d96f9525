// Showing a file's bytes in the page: images as <img>, text in a <pre>. The server decides
// what is previewable (by extension) and sends it sandboxed; anything else is a download.
import { html, useEffect, useState } from '../lib/html.js';
import { contentUrl } from '../lib/api.js';
import { bytes } from '../lib/format.js';

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const MAX_TEXT = 2 * 1024 * 1024;

export function Preview({ path, revision, size }) {
  const url = contentUrl(path, revision, false);
  const [state, setState] = useState({ text: null, error: null });
  const isImage = IMAGE.test(path);
  useEffect(() => {
    if (isImage || size > MAX_TEXT) return;
    let live = true;
    setState({ text: null, error: null });
    fetch(url, { credentials: 'same-origin' }).then(async (res) => {
      if (!live) return;
      if (res.status === 415) return setState({ text: null, error: 'There is no preview for this kind of file; download it instead.' });
      if (!res.ok) return setState({ text: null, error: `The server answered ${res.status}.` });
      const text = await res.text();
      if (live) setState({ text, error: null });
    }, () => live && setState({ text: null, error: 'The server cannot be reached.' }));
    return () => (live = false);
  }, [url]);
  if (isImage) return html`<figure class="preview"><img src=${url} alt=${'Preview of ' + path} data-testid="preview-image" /></figure>`;
  if (size > MAX_TEXT) return html`<p class="muted">${bytes(size)} is too large to preview here; download it instead.</p>`;
  if (state.error) return html`<p class="muted">${state.error}</p>`;
  if (state.text === null) return html`<p class="muted" aria-busy="true">Loading preview…</p>`;
  return html`<pre class="preview-text" tabindex="0" data-testid="preview-text">${state.text}</pre>`;
}
