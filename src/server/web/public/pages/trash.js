// Trash: deleted files, newest first. Restore one, a folder, or everything under a folder
// deleted since a time; delete for good (after a dry run that lists what will be gone).
import { html, useState } from '../lib/html.js';
import { get, post, qs } from '../lib/api.js';
import { bytes, plural, localInputToIso, localTime, folderInput } from '../lib/format.js';
import { useLoad, Loading, Time, confirmDialog, notify, ErrorNote } from '../lib/ui.js';

function GoneList({ preview }) {
  const shown = preview.purged.slice(0, 12);
  return html`<p>${plural(preview.count, 'item')} (${bytes(preview.bytes)}) will be <strong>gone for good</strong>: every kept version of them is deleted, and nothing can bring them back.</p>
    <ul class="gone">${shown.map((p) => html`<li class="path">${p}</li>`)}${preview.count > shown.length ? html`<li class="muted">…and ${plural(preview.count - shown.length, 'more item')}</li>` : null}</ul>`;
}

export function Trash() {
  const [prefix, setPrefix] = useState('');
  const [device, setDevice] = useState('');
  const [since, setSince] = useState('');
  const [error, setError] = useState(null);
  const state = useLoad(() => get('/api/v1/admin/trash' + qs({ prefix: folderInput(prefix), device })), [prefix, device]);
  const devices = useLoad(() => get('/api/v1/devices'), []);

  const run = async (fn) => {
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    }
    state.reload();
  };
  const restore = (path, sinceIso) =>
    run(async () => {
      const r = await post('/api/v1/admin/trash/restore', sinceIso ? { path, since: sinceIso } : { path });
      notify(r.count ? `Restored ${plural(r.count, 'item')}.` : 'Nothing to restore there.', r.count ? 'ok' : 'bad');
    });
  const purge = (path) =>
    run(async () => {
      const body = path ? { path } : {};
      const preview = await post('/api/v1/admin/trash/empty', { ...body, dry_run: true });
      if (!preview.count) return notify('Nothing to delete there.', 'bad');
      const ok = await confirmDialog({
        title: path ? `Delete ${path} for good?` : 'Empty the trash?',
        body: html`<${GoneList} preview=${preview} />`,
        confirm: path ? 'Delete for good' : 'Empty the trash',
        danger: true,
      });
      if (!ok) return;
      const r = await post('/api/v1/admin/trash/empty', body);
      notify(`${plural(r.count, 'item')} (${bytes(r.bytes)}) deleted for good.`);
    });
  const restoreFolder = async (e) => {
    e.preventDefault();
    const folder = folderInput(prefix);
    if (!folder) return setError(new Error('Type the folder to restore in “Path starts with” first.'));
    const sinceIso = localInputToIso(since);
    const ok = await confirmDialog({
      title: `Restore ${folder}?`,
      body: html`<p>Every file deleted under <strong class="path">${folder}</strong>${sinceIso ? html` since ${localTime(sinceIso)}` : ''} comes back, with the bytes it had when it was deleted.</p>`,
      confirm: 'Restore',
    });
    if (ok) restore(folder, sinceIso);
  };

  return html`<h1>Trash</h1>
    <form class="toolbar wrap" onSubmit=${restoreFolder} aria-label="Filter and restore">
      <label>Path starts with <input type="search" value=${prefix} onInput=${(e) => setPrefix(e.currentTarget.value)} placeholder="Photos/2026" /></label>
      <label>Deleted by <select value=${device} onChange=${(e) => setDevice(e.currentTarget.value)}>
        <option value="">any device</option>
        ${(devices.data?.devices ?? []).map((d) => html`<option value=${d.name}>${d.name}</option>`)}
      </select></label>
      <label>Since <input type="datetime-local" value=${since} onInput=${(e) => setSince(e.currentTarget.value)} /></label>
      <button type="submit" disabled=${!prefix.trim()}>Restore everything under this folder${since ? ' since then' : ''}</button>
      <button type="button" class="danger" onClick=${() => purge(undefined)}>Empty the trash…</button>
    </form>
    <${ErrorNote} error=${error} />
    <${Loading} state=${state}>${({ entries }) => entries.length === 0
      ? html`<p class="muted">${prefix || device ? 'Nothing deleted matches.' : 'The trash is empty.'}</p>`
      : html`<div class="table-wrap"><table class="trash">
        <thead><tr><th scope="col">Path</th><th scope="col">Size</th><th scope="col">Deleted</th><th scope="col">By</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${entries.map((t) => html`<tr key=${t.path + t.revision} data-path=${t.path}>
          <th scope="row" class="path">${t.path}${t.kind === 'dir' ? '/' : ''}</th>
          <td data-label="Size">${t.kind === 'dir' ? '' : t.kind === 'symlink' ? 'link' : bytes(t.size)}</td>
          <td data-label="Deleted"><${Time} at=${t.deleted_at} /></td>
          <td data-label="By">${t.deleted_by ?? html`<span class="muted">–</span>`}</td>
          <td class="actions"><button type="button" class="small" onClick=${() => restore(t.path)}>Restore</button>
            <button type="button" class="small danger" onClick=${() => purge(t.path)}>Delete for good…</button></td>
        </tr>`)}</tbody>
      </table></div>`}<//>`;
}
