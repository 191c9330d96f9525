// The console's entry point: sign-in gate, the shell (navigation), and the page for the route.
import { html, render, useEffect } from './lib/html.js';
import { sessionState, checkSession, signOut } from './lib/api.js';
import { route, href } from './lib/router.js';
import { ConfirmHost, NoticeHost } from './lib/ui.js';
import { SignIn } from './pages/signin.js';
import { Overview } from './pages/overview.js';
import { Devices } from './pages/devices.js';
import { Files } from './pages/files.js';
import { Trash } from './pages/trash.js';
import { Conflicts } from './pages/conflicts.js';
import { Activity } from './pages/activity.js';
import { Storage } from './pages/storage.js';

const PAGES = [
  { id: 'overview', title: 'Overview', view: Overview },
  { id: 'devices', title: 'Devices', view: Devices },
  { id: 'files', title: 'Files', view: Files },
  { id: 'trash', title: 'Trash', view: Trash },
  { id: 'conflicts', title: 'Conflicts', view: Conflicts },
  { id: 'activity', title: 'Activity', view: Activity },
  { id: 'storage', title: 'Storage', view: Storage },
];

function Shell() {
  const r = route.value;
  const page = PAGES.find((p) => p.id === r.page);
  useEffect(() => {
    document.title = `${page ? page.title : 'Not found'} · synmac`;
  }, [page]);
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand"><img src="/console/favicon.svg" alt="" width="22" height="22" /> synmac</span>
      <nav aria-label="Console">
        ${PAGES.map((p) => html`<a href=${href(p.id)} aria-current=${p.id === r.page ? 'page' : undefined}>${p.title}</a>`)}
      </nav>
      <button type="button" class="signout" onClick=${() => signOut()}>Sign out</button>
    </header>
    <main id="main" tabindex="-1">
      ${page ? html`<${page.view} arg=${r.arg} key=${page.id} />` : html`<h1>Not found</h1><p>No page called “${r.page}”. <a href=${href('overview')}>Overview</a></p>`}
    </main>
  </div>`;
}

function App() {
  const s = sessionState.value;
  useEffect(() => {
    checkSession().catch((err) => {
      sessionState.value = 'signed-out';
      console.warn(err.message);
    });
  }, []);
  return html`${s === 'unknown' ? html`<p class="muted center" aria-busy="true">Loading…</p>` : s === 'signed-in' ? html`<${Shell} />` : html`<${SignIn} />`}
    <${ConfirmHost} />
    <${NoticeHost} />`;
}

render(html`<${App} />`, document.getElementById('app'));
