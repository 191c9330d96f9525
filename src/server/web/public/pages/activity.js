// Activity: history from the server, then live events as they happen (Server-Sent Events).
import { html, useState, useEffect, useRef } from '../lib/html.js';
import { get, qs } from '../lib/api.js';
import { ErrorNote } from '../lib/ui.js';
import { folderInput } from '../lib/format.js';
import { EventRow } from './overview.js';

// The same rule as the server's filter: a folder prefix matches the folder and what is under it.
function matches(e, device, prefix) {
  if (device && e.device_name !== device) return false;
  const p = folderInput(prefix);
  return !p || e.path === p || (e.path ?? '').startsWith(p + '/');
}

export function Activity() {
  const [device, setDevice] = useState('');
  const [prefix, setPrefix] = useState('');
  const [events, setEvents] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState('connecting');
  const [devices, setDevices] = useState([]);
  const filters = useRef({ device, prefix });
  filters.current = { device, prefix };

  useEffect(() => {
    get('/api/v1/devices').then((r) => setDevices(r.devices), () => {});
  }, []);

  useEffect(() => {
    let stale = false;
    setEvents(null);
    get('/api/v1/admin/activity' + qs({ device, prefix: folderInput(prefix), limit: 200 })).then(
      (r) => {
        if (stale) return;
        setError(null);
        setEvents(r.events);
      },
      (err) => !stale && setError(err),
    );
    return () => (stale = true);
  }, [device, prefix]);

  useEffect(() => {
    const es = new EventSource('/api/v1/admin/activity/stream', { withCredentials: true });
    es.onopen = () => setLive('live');
    es.onerror = () => setLive(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    es.addEventListener('activity', (m) => {
      let e;
      try {
        e = JSON.parse(m.data);
      } catch {
        return;
      }
      const f = filters.current;
      if (!matches(e, f.device, f.prefix)) return;
      setEvents((list) => (list && !list.some((x) => x.id === e.id) ? [e, ...list].slice(0, 1000) : list));
    });
    return () => es.close();
  }, []);

  const older = async () => {
    const last = events[events.length - 1];
    try {
      const r = await get('/api/v1/admin/activity' + qs({ device, prefix: folderInput(prefix), limit: 200, before: last.id }));
      setEvents((list) => [...list, ...r.events]);
    } catch (err) {
      setError(err);
    }
  };

  return html`<h1>Activity <span class=${'live ' + live} data-testid="live">${live === 'live' ? '● live' : live}</span></h1>
    <div class="toolbar wrap">
      <label>Device <select value=${device} onChange=${(e) => setDevice(e.currentTarget.value)}>
        <option value="">all devices</option>
        ${devices.map((d) => html`<option value=${d.name}>${d.name}</option>`)}
      </select></label>
      <label>Path starts with <input type="search" value=${prefix} onInput=${(e) => setPrefix(e.currentTarget.value)} placeholder="Documents" /></label>
    </div>
    <${ErrorNote} error=${error} />
    ${events === null
      ? html`<p class="muted" aria-busy="true">Loading…</p>`
      : events.length === 0
        ? html`<p class="muted">No activity${device || prefix ? ' matches' : ' yet'}.</p>`
        : html`<ul class="events" aria-live="polite" data-testid="events">${events.map((e) => html`<${EventRow} e=${e} key=${e.id} />`)}</ul>
          ${events.length >= 200 ? html`<button type="button" onClick=${older}>Older events</button>` : null}`}`;
}
