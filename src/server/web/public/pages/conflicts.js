// Conflicts: each conflict copy beside its original, who wrote which and when, a side-by-side
// diff for text, and the three ways out: keep the original, keep the copy, keep both.
import { html, useState } from '../lib/html.js';
import { get, post, contentUrl } from '../lib/api.js';
import { bytes } from '../lib/format.js';
import { useLoad, Loading, Time, confirmDialog, notify, ErrorNote } from '../lib/ui.js';

async function text(path, revision) {
  const res = await fetch(contentUrl(path, revision, false), { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`Cannot read ${path} (${res.status}).`);
  return res.text();
}

/** Pairs removed and added lines into rows of a two-column table. */
function sideBySide(parts) {
  const rows = [];
  let left = [];
  let right = [];
  const flush = () => {
    const n = Math.max(left.length, right.length);
    for (let i = 0; i < n; i++) rows.push({ l: left[i], r: right[i], kind: 'change' });
    left = [];
    right = [];
  };
  const lines = (v) => {
    const ls = v.split('\n');
    if (ls[ls.length - 1] === '') ls.pop();
    return ls;
  };
  for (const p of parts) {
    if (p.removed) left.push(...lines(p.value));
    else if (p.added) right.push(...lines(p.value));
    else {
      flush();
      for (const l of lines(p.value)) rows.push({ l, r: l, kind: 'same' });
    }
  }
  flush();
  return rows;
}

function Diff({ c }) {
  const state = useLoadDiff(c);
  return html`<${Loading} state=${state}>${(rows) => html`<div class="diff-wrap" tabindex="0" aria-label="Differences"><table class="diff" data-testid="diff">
    <thead><tr><th scope="col">Original · ${c.original.device_name ?? ''}</th><th scope="col">Conflict copy · ${c.copy.device_name ?? ''}</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr class=${r.kind}>
      <td class=${r.kind === 'change' && r.l !== undefined ? 'del' : ''}>${r.l ?? ''}</td>
      <td class=${r.kind === 'change' && r.r !== undefined ? 'add' : ''}>${r.r ?? ''}</td></tr>`)}</tbody>
  </table></div>`}<//>`;
}

function useLoadDiff(c) {
  return useLoad(async () => {
    const [{ diffLines }, a, b] = await Promise.all([
      import('/console/vendor/diff/diff/line.js'),
      text(c.original.path, c.original.revision),
      text(c.copy.path, c.copy.revision),
    ]);
    return sideBySide(diffLines(a, b));
  }, [c.copy.path, c.copy.revision]);
}

function Side({ title, f }) {
  return html`<div class="side"><h3>${title}</h3>
    <p class="path">${f.path}</p>
    <p class="muted">${bytes(f.size)} · ${f.device_name ? 'by ' + f.device_name : 'unknown device'} · <${Time} at=${f.created_at} /></p>
    <a class="button small" href=${contentUrl(f.path, f.revision, true)} download>Download</a></div>`;
}

function Conflict({ c, onDone }) {
  const [showDiff, setShowDiff] = useState(c.is_text);
  const [error, setError] = useState(null);
  const resolve = async (keep) => {
    const o = c.original?.path ?? '(no original)';
    const what = {
      original: { title: 'Keep the original?', body: html`<p><strong class="path">${o}</strong> stays as it is. The conflict copy is deleted (it stays in the trash and its versions).</p>`, confirm: 'Keep the original' },
      copy: { title: 'Keep the conflict copy?', body: html`<p>The copy's bytes become <strong class="path">${o}</strong>'s current version (the original's bytes stay a past version), and the copy's name goes away.</p>`, confirm: 'Keep the copy' },
      both: { title: 'Keep both?', body: html`<p>Both files stay as they are, and this is no longer listed as a conflict.</p>`, confirm: 'Keep both' },
    }[keep];
    if (!(await confirmDialog(what))) return;
    try {
      await post('/api/v1/admin/conflicts/resolve', { copy_path: c.copy.path, keep });
      notify(keep === 'both' ? 'Kept both.' : keep === 'copy' ? `The copy is now ${o}.` : `Kept ${o}.`);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<article class="card conflict" data-copy=${c.copy.path} aria-label=${'Conflict ' + c.copy.path}>
    <div class="sides">
      ${c.original ? html`<${Side} title="Original" f=${c.original} />` : html`<div class="side"><h3>Original</h3><p class="muted">The original is gone (deleted or moved).</p></div>`}
      <${Side} title="Conflict copy" f=${c.copy} />
    </div>
    ${c.is_text && c.original ? html`<button type="button" class="linkish" aria-expanded=${showDiff} onClick=${() => setShowDiff(!showDiff)}>${showDiff ? 'Hide' : 'Show'} differences</button>` : null}
    ${showDiff && c.is_text && c.original ? html`<${Diff} c=${c} />` : null}
    <${ErrorNote} error=${error} />
    <div class="actions left">
      ${c.original ? html`<button type="button" onClick=${() => resolve('original')}>Keep the original</button>
      <button type="button" onClick=${() => resolve('copy')}>Keep this copy</button>` : null}
      <button type="button" onClick=${() => resolve('both')}>Keep both</button>
    </div>
  </article>`;
}

export function Conflicts() {
  const state = useLoad(() => get('/api/v1/admin/conflicts'), []);
  return html`<h1>Conflicts</h1>
    <p class="muted">When two devices change the same file while apart, the second one's version is kept beside the first as a conflict copy. Nothing is lost either way.</p>
    <${Loading} state=${state}>${({ conflicts }) => conflicts.length === 0
      ? html`<p class="muted">No conflicts.</p>`
      : conflicts.map((c) => html`<${Conflict} c=${c} onDone=${state.reload} key=${c.copy.path} />`)}<//>`;
}
