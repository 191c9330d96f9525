// Files: browse the folder as the server holds it now. A directory is one request; the list
// renders only the rows in view, so 10,000 entries cost a few dozen DOM nodes.
import { html, useState, useMemo, useEffect } from '../lib/html.js';
import { get, post, qs, contentUrl } from '../lib/api.js';
import { href, go } from '../lib/router.js';
import { bytes, shortTime, fullTime, parentDir } from '../lib/format.js';
import { useLoad, Loading, Time, VirtualList, confirmDialog, notify, ErrorNote, listFocus } from '../lib/ui.js';
import { Preview } from './preview.js';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
const SORTS = {
  name: (a, b) => collator.compare(a.name, b.name),
  size: (a, b) => (a.size ?? 0) - (b.size ?? 0) || collator.compare(a.name, b.name),
  mtime: (a, b) => new Date(a.modified_at ?? a.mtime ?? 0) - new Date(b.modified_at ?? b.mtime ?? 0) || collator.compare(a.name, b.name),
};

function Crumbs({ dir }) {
  const parts = dir ? dir.split('/') : [];
  return html`<nav class="crumbs" aria-label="Folder">
    <a href=${href('files')} aria-current=${parts.length === 0 ? 'page' : undefined}>All files</a>
    ${parts.map((p, i) => html`<span aria-hidden="true">/</span><a href=${href('files', parts.slice(0, i + 1).join('/'))} aria-current=${i === parts.length - 1 ? 'page' : undefined}>${p}</a>`)}
  </nav>`;
}

function SortHeader({ sort, setSort }) {
  const col = (key, label, cls) => {
    const on = sort.key === key;
    return html`<span class=${'col ' + cls} role="columnheader" aria-sort=${on ? (sort.asc ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="linkish" onClick=${() => { setSort({ key, asc: on ? !sort.asc : true }); }}>${label}${on ? (sort.asc ? ' ▲' : ' ▼') : ''}</button>
    </span>`;
  };
  return html`<div class="vhead" role="row">${col('name', 'Name', 'name')}${col('size', 'Size', 'size')}${col('mtime', 'Modified', 'mtime')}<span class="col by" role="columnheader">By</span></div>`;
}

function Row(e) {
  return html`<span class="col name"><span class=${'icon ' + e.kind} aria-hidden="true"></span><span class="fname">${e.name}</span></span>
    <span class="col size">${e.kind === 'dir' ? '' : e.kind === 'symlink' ? html`<span class="muted">link → ${e.target}</span>` : bytes(e.size)}</span>
    <span class="col mtime" title=${fullTime(e.mtime ?? e.modified_at)}>${shortTime(e.mtime ?? e.modified_at)}</span>
    <span class="col by">${e.device_name ?? ''}</span>`;
}

function kindLabel(kind) {
  return { edit: 'edit', delete: 'deleted', conflict: 'conflict', restore: 'restored', move: 'moved', create: 'created' }[kind] ?? kind ?? '';
}

function FileDetails({ entry, onChanged }) {
  const state = useLoad(() => get('/api/v1/admin/versions' + qs({ path: entry.path })), [entry.path, entry.revision]);
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => setPreview(null), [entry.path]);
  const restore = async (v) => {
    const ok = await confirmDialog({
      title: 'Restore this version?',
      body: html`<p><strong>${entry.path}</strong> becomes the version of <${Time} at=${v.created_at} /> (${bytes(v.size)}) again. The current bytes stay as a past version; devices download the restored one on their next sync.</p>`,
      confirm: 'Restore',
    });
    if (!ok) return;
    try {
      setError(null);
      const r = await post('/api/v1/admin/restore', { path: entry.path, revision: v.revision });
      notify(`Restored ${entry.path} (now revision ${r.revision}).`);
      state.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="details card" aria-labelledby="details-title">
    <h2 id="details-title" class="path">${entry.name}</h2>
    <dl class="facts">
      <dt>Path</dt><dd class="path">${entry.path}</dd>
      <dt>Size</dt><dd>${bytes(entry.size)} <span class="muted">(${Number(entry.size).toLocaleString()} bytes)</span></dd>
      <dt>Modified</dt><dd><${Time} at=${entry.mtime ?? entry.modified_at} /></dd>
      <dt>Written by</dt><dd>${entry.device_name ?? html`<span class="muted">the console (a restore) or an unknown device</span>`}</dd>
    </dl>
    <div class="actions left">
      <a class="button primary" href=${contentUrl(entry.path, undefined, true)} download data-testid="download-current">Download</a>
      <button type="button" onClick=${() => setPreview(preview && preview.revision === undefined ? null : { revision: undefined, size: entry.size })} aria-expanded=${!!preview && preview.revision === undefined} data-testid="preview-current">Preview</button>
    </div>
    <${ErrorNote} error=${error} />
    ${preview ? html`<${Preview} path=${entry.path} revision=${preview.revision} size=${preview.size} key=${String(preview.revision)} />` : null}
    <h3>Versions</h3>
    <${Loading} state=${state}>${({ versions }) => html`<ol class="versions">
      ${versions.map((v, i) => html`<li key=${v.revision} data-revision=${v.revision}>
        <div><strong><${Time} at=${v.created_at} /></strong> ${i === 0 ? html`<span class="pill ok">current</span>` : null}
          <span class="muted"> ${kindLabel(v.kind)}${v.device_name ? ' by ' + v.device_name : ''} · ${v.deleted ? 'deleted' : v.entry_kind === 'symlink' ? 'link → ' + v.target : bytes(v.size)} · rev ${v.revision}</span></div>
        ${v.deleted ? null : html`<div class="actions left">
          <a class="button small" href=${contentUrl(entry.path, v.revision, true)} download>Download</a>
          <button type="button" class="small" onClick=${() => setPreview({ revision: v.revision, size: v.size })}>Preview</button>
          ${i === 0 ? null : html`<button type="button" class="small" onClick=${() => restore(v)}>Restore</button>`}
        </div>`}
      </li>`)}
    </ol>`}<//>
  </section>`;
}

export function Files({ arg }) {
  const dir = arg ?? '';
  // A User Timing mark when a folder's listing is in hand: devtools (and the browser test)
  // can tell the page's own rendering apart from the request.
  const state = useLoad(
    () => get('/api/v1/admin/tree' + qs({ dir })).then((r) => (performance.mark('synmac:tree-loaded'), r)),
    [dir],
    { fresh: true },
  );
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState({ key: 'name', asc: true });
  const [active, setActive] = useState(null);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    setActive(null);
    setSelected(null);
    setFilter('');
  }, [dir]);
  const entries = state.data?.entries ?? [];
  const shown = useMemo(() => {
    const f = filter.trim().toLocaleLowerCase();
    const list = f ? entries.filter((e) => e.name.toLocaleLowerCase().includes(f)) : entries.slice();
    const cmp = SORTS[sort.key];
    list.sort((a, b) => (a.kind === b.kind ? (sort.asc ? cmp(a, b) : cmp(b, a)) : a.kind === 'dir' ? -1 : 1));
    return list;
  }, [entries, filter, sort]);
  // After a restore, the selected entry's row has new facts: pick them up from the new list.
  useEffect(() => {
    if (selected) setSelected(entries.find((e) => e.path === selected.path) ?? null);
  }, [entries]);
  const open = (e) => {
    if (e.kind !== 'dir') return setSelected(e);
    listFocus.next = true;
    go('files', e.path);
  };
  const up = () => {
    if (!dir) return;
    listFocus.next = true;
    go('files', parentDir(dir));
  };
  return html`<h1>Files</h1>
    <${Crumbs} dir=${dir} />
    <div class="toolbar">
      <label class="grow"><span class="sr-only">Filter by name</span>
        <input type="search" placeholder="Filter by name" value=${filter} onInput=${(e) => { setFilter(e.currentTarget.value); setActive(null); }} />
      </label>
      <span class="muted count" data-testid="entry-count">${state.data ? (filter ? `${shown.length.toLocaleString()} of ${entries.length.toLocaleString()}` : entries.length.toLocaleString()) + ' entries' : ''}</span>
    </div>
    <${Loading} state=${state}>${() => html`<div class=${'files-layout' + (selected ? ' with-details' : '')}>
      ${entries.length === 0
        ? html`<p class="muted">This folder is empty.</p>`
        : html`<${VirtualList}
            items=${shown}
            label=${'Entries of ' + (dir || 'the root folder')}
            active=${active}
            setActive=${setActive}
            onActivate=${open}
            onBack=${up}
            renderRow=${Row}
            resetKey=${`${dir}\u0000${sort.key}${sort.asc}\u0000${filter}`}
            header=${html`<${SortHeader} sort=${sort} setSort=${setSort} />`}
          />`}
      ${selected ? html`<${FileDetails} entry=${selected} onChanged=${state.reload} key=${selected.path} />` : null}
    </div>`}<//>`;
}
