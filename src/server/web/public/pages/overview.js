// Overview: what the server holds, who is connected, and the latest changes.
import { html } from '../lib/html.js';
import { get } from '../lib/api.js';
import { href } from '../lib/router.js';
import { bytes, plural, localTime } from '../lib/format.js';
import { useLoad, Loading, Time } from '../lib/ui.js';
import { verb } from '../lib/events.js';
import { cannotSync } from './devices.js';

// Events about a device name it as their subject ("registered Gamma"), not as who did it.
const DEVICE_IS_SUBJECT = new Set(['register', 'revoke']);
const ISO_TIME = /\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z\b/g;

/** The server writes instants in details as ISO UTC; the page shows them in local time. */
function localDetail(detail) {
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return text.replace(ISO_TIME, (iso) => localTime(iso) || iso);
}

export function EventRow({ e }) {
  const subject = DEVICE_IS_SUBJECT.has(e.type);
  return html`<li class="event">
    <${Time} at=${e.at} />
    <span class=${'tag t-' + e.type}>${verb(e.type)}</span>
    ${subject && e.device_name ? html`<strong>${e.device_name}</strong>` : null}
    ${e.path ? html`<span class="path">${e.path}</span>` : e.path === '' ? html`<span class="muted">in the top folder</span>` : null}
    ${!subject && e.device_name ? html`<span class="muted">by ${e.device_name}</span>` : null}
    ${e.detail ? html`<span class="muted detail">${localDetail(e.detail)}</span>` : null}
  </li>`;
}

export function Overview() {
  const state = useLoad(() => get('/api/v1/admin/overview'), []);
  return html`<h1>Overview</h1>
    <${Loading} state=${state}>${(o) => html`
      ${o.device_problems?.length
        ? html`<section class="card warn" data-testid="sync-problems" aria-labelledby="sync-problems-title">
            <h2 id="sync-problems-title">Not everything is in sync</h2>
            <ul>${o.device_problems.map((p) => html`<li key=${p.device_id}><strong>${p.device_name}</strong>: ${cannotSync(p.total)} <a href=${href('devices')}>see which →</a></li>`)}</ul>
          </section>`
        : null}
      <div class="stats">
        <a class="stat" href=${href('files')}><span class="big">${o.files.count.toLocaleString()}</span> files<small>${bytes(o.files.bytes)} in ${plural(o.files.dirs, 'folder')}</small></a>
        <a class="stat" href=${href('devices')}><span class="big">${o.devices.online} / ${o.devices.total - o.devices.revoked}</span> devices online<small>${o.devices.revoked} revoked</small></a>
        <a class="stat" href=${href('storage')}><span class="big">${bytes(o.storage.blob_bytes + o.storage.pack_bytes)}</span> stored<small>${bytes(o.storage.reclaimable_bytes)} reclaimable</small></a>
        <div class="stat"><span class="big">${o.version}</span> server<small>${o.database === 'postgres' ? 'PostgreSQL' : 'SQLite'}</small></div>
      </div>
      <h2>Recent changes</h2>
      ${o.recent_changes.length ? html`<ul class="events">${o.recent_changes.map((e) => html`<${EventRow} e=${e} key=${e.id} />`)}</ul>` : html`<p class="muted">Nothing has happened yet.</p>`}
      <p><a href=${href('activity')}>All activity →</a></p>`}
    <//>`;
}
