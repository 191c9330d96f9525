// Storage and garbage collection: what the blob store holds, what a run would free, run it.
import { html, useState } from '../lib/html.js';
import { get, post } from '../lib/api.js';
import { bytes, plural } from '../lib/format.js';
import { useLoad, Loading, confirmDialog, notify, ErrorNote } from '../lib/ui.js';

export function Storage() {
  const overview = useLoad(() => get('/api/v1/admin/overview'), []);
  const preview = useLoad(() => get('/api/v1/admin/gc/preview'), []);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    const p = preview.data;
    const ok = await confirmDialog({
      title: 'Run garbage collection?',
      body: html`<p>It prunes versions older than the retention policy keeps and removes content nothing refers to any more${p ? html` — about <strong>${bytes(p.reclaimable_bytes)}</strong> now` : ''}. Current files, kept versions and the trash are never touched.</p>`,
      confirm: 'Run it now',
    });
    if (!ok) return;
    setBusy(true);
    setError(null);
    try {
      const r = await post('/api/v1/admin/gc', {});
      setResult(r);
      notify(`Freed ${bytes(r.bytes_freed)}.`);
      overview.reload();
      preview.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<h1>Storage</h1>
    <${Loading} state=${overview}>${(o) => html`<dl class="facts wide">
      <dt>Files</dt><dd>${plural(o.files.count, 'file')}, ${bytes(o.files.bytes)}</dd>
      <dt>Loose blobs</dt><dd>${bytes(o.storage.blob_bytes)}</dd>
      <dt>Packs</dt><dd>${bytes(o.storage.pack_bytes)}</dd>
      <dt>Stored in all</dt><dd data-testid="stored-total">${bytes(o.storage.blob_bytes + o.storage.pack_bytes)}</dd>
      ${o.storage.manifests
        ? html`<dt>Large files as chunks</dt><dd data-testid="chunk-storage">${bytes(o.storage.chunk_bytes)} in chunks of ${plural(o.storage.manifests, 'large file')} <span class="muted">(part of the total above: a chunk that several files or versions share is stored, and counted, once)</span></dd>`
        : null}
    </dl>`}<//>
    <h2>Garbage collection</h2>
    <${Loading} state=${preview}>${(p) => html`<p data-testid="reclaimable">A run now would free <strong>${bytes(p.reclaimable_bytes)}</strong>${p.blobs !== undefined ? html` (${plural(p.blobs, 'blob')}${p.packs !== undefined ? html`, ${plural(p.packs, 'pack')}` : ''})` : ''}.</p>`}<//>
    <button type="button" class="primary" onClick=${run} disabled=${busy}>${busy ? 'Collecting…' : 'Run garbage collection'}</button>
    <${ErrorNote} error=${error} />
    ${result ? html`<h3>This run</h3><dl class="facts wide" data-testid="gc-result">
      <dt>Versions pruned</dt><dd>${result.versions_pruned}</dd>
      <dt>Blobs removed</dt><dd>${result.blobs_removed}</dd>
      <dt>Freed</dt><dd>${bytes(result.bytes_freed)}</dd>
    </dl>` : null}`;
}
