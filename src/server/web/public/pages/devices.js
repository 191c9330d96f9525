// Devices: who is enrolled, online, when last seen and synced; revoke; enroll a new one.
import { html, useState } from '../lib/html.js';
import { get, post } from '../lib/api.js';
import { useLoad, Loading, Time, ErrorNote, confirmDialog, notify, CopyButton } from '../lib/ui.js';
import { plural } from '../lib/format.js';

/** "2 files cannot be synced": what the device reported after its last sync. */
export const cannotSync = (n) => `${plural(n, 'file')} cannot be synced`;

/**
 * What one device cannot sync, as it reported it: the path as the device shows it (bytes
 * that are not UTF-8 written as \xE9), why, and since when. Fixed on the device (renamed,
 * removed), it disappears after the device's next sync.
 */
function DeviceProblems({ p }) {
  const id = `problems-${p.device_id}`;
  return html`<section class="card problems" data-device-problems=${p.device_name} aria-labelledby=${id}>
    <h2 id=${id}>${p.device_name}: ${cannotSync(p.total)}</h2>
    <p class="muted small">Reported by the device <${Time} at=${p.reported_at} />. Rename or remove them on ${p.device_name} (<code>synmac status</code> there lists them too); the list clears after its next sync.${p.total > p.problems.length ? ` The first ${p.problems.length.toLocaleString()} of ${p.total.toLocaleString()} are listed.` : ''}</p>
    <div class="table-wrap"><table class="problems">
      <thead><tr><th scope="col">Path on the device</th><th scope="col">Why</th><th scope="col">Since</th></tr></thead>
      <tbody>${p.problems.map((x) => html`<tr key=${x.path}>
        <th scope="row" class="path">${x.path}</th>
        <td data-label="Why">${x.reason}</td>
        <td data-label="Since"><${Time} at=${x.since} /></td>
      </tr>`)}</tbody>
    </table></div>
  </section>`;
}

function Enroll({ onDone }) {
  const [invite, setInvite] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      setInvite(await post('/api/v1/invites', {}));
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card enroll" aria-labelledby="enroll-title">
    <h2 id="enroll-title">Add a device</h2>
    <p class="muted">An enrollment code works once and expires. Run the line below on the new device.</p>
    <button type="button" class="primary" onClick=${create} disabled=${busy}>${invite ? 'Create another code' : 'Create an enrollment code'}</button>
    <${ErrorNote} error=${error} />
    ${invite
      ? html`<div class="invite">
          <p>Code <strong class="code" data-testid="invite-code">${invite.code}</strong>, valid until <${Time} at=${invite.expires_at} />.</p>
          ${invite.register_command
            ? html`<div class="command"><code id="register-command" data-testid="register-command">${invite.register_command}</code><${CopyButton} text=${invite.register_command} targetId="register-command" /></div>
                <p class="muted small">Change <code>--name</code> and <code>--folder</code> to suit the device.</p>`
            : null}
        </div>`
      : null}
  </section>`;
}

export function Devices() {
  const state = useLoad(async () => {
    const [{ devices }, { devices: problems }] = await Promise.all([get('/api/v1/devices'), get('/api/v1/admin/device-problems')]);
    return { devices, problems };
  }, []);
  const revoke = async (d) => {
    const ok = await confirmDialog({
      title: `Revoke ${d.name}?`,
      body: html`<p>Its key stops working at once: <strong>${d.name}</strong> can no longer sync, and it needs a new enrollment code to come back. Files it already synced stay on the server.</p>`,
      confirm: `Revoke ${d.name}`,
      danger: true,
    });
    if (!ok) return;
    try {
      await post(`/api/v1/devices/${encodeURIComponent(d.id)}/revoke`, {});
      notify(`${d.name} is revoked.`);
    } catch (err) {
      notify(err.message, 'bad');
    }
    state.reload();
  };
  return html`<h1>Devices</h1>
    <${Loading} state=${state}>${({ devices, problems }) => html`
      ${devices.length === 0 ? html`<p class="muted">No devices yet.</p>` : html`
      <div class="table-wrap"><table class="devices">
        <thead><tr><th scope="col">Device</th><th scope="col">Status</th><th scope="col">Last seen</th><th scope="col">Last sync</th><th scope="col">Sync problems</th><th scope="col">Version</th><th scope="col">Platform</th><th scope="col">Enrolled</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${devices.map((d) => html`<tr key=${d.id} data-device=${d.name} class=${d.revoked_at ? 'revoked' : ''}>
          <th scope="row">${d.name}</th>
          <td>${d.revoked_at ? html`<span class="pill bad">revoked <${Time} at=${d.revoked_at} /></span>` : d.online ? html`<span class="pill ok">online</span>` : html`<span class="pill">offline</span>`}</td>
          <td data-label="Last seen"><${Time} at=${d.last_seen_at} relative /></td>
          <td data-label="Last sync"><${Time} at=${d.last_sync_at} relative /></td>
          <td data-label="Sync problems">${(() => {
            const p = problems.find((x) => x.device_id === d.id);
            return p ? html`<a class="pill bad" href=${'#problems-' + d.id} onClick=${(e) => { e.preventDefault(); document.getElementById('problems-' + d.id)?.scrollIntoView(); }}>${cannotSync(p.total)}</a>` : html`<span class="muted">none</span>`;
          })()}</td>
          <td data-label="Version">${d.client_version ?? html`<span class="muted">–</span>`}</td>
          <td data-label="Platform">${d.platform ?? html`<span class="muted">–</span>`}</td>
          <td data-label="Enrolled"><${Time} at=${d.created_at} /></td>
          <td>${d.revoked_at ? null : html`<button type="button" class="danger" onClick=${() => revoke(d)}>Revoke</button>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
      ${problems.map((p) => html`<${DeviceProblems} p=${p} key=${p.device_id} />`)}`}
    <//>
    <${Enroll} onDone=${() => state.reload()} />`;
}
