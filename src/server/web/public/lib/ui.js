// Small shared pieces: confirmation dialog, notices, times, loading state, a virtual list.
import { html, signal, useState, useEffect, useRef, useCallback, useLayoutEffect } from './html.js';
import { localTime, fullTime, ago } from './format.js';

// ---- confirmation: a real modal <dialog> (focus stays inside, Esc cancels) ----
const pending = signal(null);

/** Asks before something happens; resolves true only when the owner confirms. */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    pending.value = { title, body, confirm, danger, resolve };
  });
}

export function ConfirmHost() {
  const ref = useRef(null);
  const p = pending.value;
  useEffect(() => {
    const d = ref.current;
    if (p && d && !d.open) d.showModal();
  }, [p]);
  const close = (ok) => {
    ref.current?.close();
    pending.value = null;
    p?.resolve(ok);
  };
  if (!p) return null;
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title" onCancel=${(e) => { e.preventDefault(); close(false); }}>
    <form method="dialog" onSubmit=${(e) => { e.preventDefault(); close(true); }}>
      <h2 id="confirm-title">${p.title}</h2>
      <div class="confirm-body">${p.body}</div>
      <div class="actions">
        <button type="button" onClick=${() => close(false)} autofocus>Cancel</button>
        <button type="submit" class=${p.danger ? 'danger' : 'primary'}>${p.confirm}</button>
      </div>
    </form>
  </dialog>`;
}

// ---- notices (an aria-live region, so screen readers hear what happened) ----
export const notice = signal(null);
let noticeTimer = 0;
export function notify(text, kind = 'ok') {
  notice.value = { text, kind, at: Date.now() };
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.value = null), 6000);
}
export function NoticeHost() {
  const n = notice.value;
  return html`<div class="notice-host" role="status" aria-live="polite">${n ? html`<div class=${'notice ' + n.kind}>${n.text}</div>` : null}</div>`;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message ?? String(error)}</p>`;
}

/** A timestamp in the viewer's local time; the full form on hover. */
export function Time({ at, relative = false }) {
  if (!at) return html`<span class="muted">never</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime=${iso} title=${fullTime(at)}>${relative ? ago(at) : localTime(at)}</time>`;
}

/**
 * Loads data with `fn` (again when deps change or reload() is called). With `fresh`, a change
 * of deps drops the old data first (a new folder must not show the last one's rows meanwhile);
 * otherwise the old data stays until the new arrives (filters typed into a field do not flash).
 */
export function useLoad(fn, deps, { fresh = false } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const lastDeps = useRef(null);
  useEffect(() => {
    let live = true;
    const key = JSON.stringify(deps);
    const changed = lastDeps.current !== null && lastDeps.current !== key;
    lastDeps.current = key;
    setState((s) => (fresh && changed ? { data: null, error: null, loading: true } : { ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => (live = false);
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Loading({ state, children }) {
  if (state.error) return html`<${ErrorNote} error=${state.error} />`;
  if (state.data === null) return html`<p class="muted" aria-busy="true">Loading…</p>`;
  return children(state.data);
}

/** Set before navigating into a folder from the list: the next list to mount takes the focus. */
export const listFocus = { next: false };

/**
 * A list that renders only the rows in view (a 10,000-entry folder is a few dozen DOM
 * nodes). Rows have one fixed height. Arrow keys, Page Up/Down, Home/End move the active row;
 * Enter activates it.
 */
export function VirtualList({ items, rowHeight = 36, renderRow, onActivate, onBack, label, active, setActive, header, resetKey }) {
  const ref = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  // A new order or filter starts again at the top.
  useLayoutEffect(() => {
    if (ref.current) ref.current.scrollTop = 0;
    setView((v) => ({ ...v, top: 0 }));
  }, [resetKey]);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    if (listFocus.next) {
      listFocus.next = false;
      el.focus();
      if (items.length) setActive(0);
    }
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const onScroll = (e) => setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight });
  const first = Math.max(0, Math.floor(view.top / rowHeight) - 5);
  const last = Math.min(items.length, Math.ceil((view.top + view.height) / rowHeight) + 5);
  const move = (i) => {
    const n = Math.max(0, Math.min(items.length - 1, i));
    setActive(n);
    const el = ref.current;
    if (!el) return;
    const y = n * rowHeight;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = y + rowHeight - el.clientHeight;
  };
  const onKey = (e) => {
    if ((e.key === 'Backspace' || (e.altKey && e.key === 'ArrowUp')) && onBack) {
      e.preventDefault();
      return onBack();
    }
    if (!items.length) return;
    const page = Math.max(1, Math.floor((ref.current?.clientHeight ?? 400) / rowHeight) - 1);
    const a = active ?? -1;
    const keys = { ArrowDown: a + 1, ArrowUp: a - 1, PageDown: a + page, PageUp: a - page, Home: 0, End: items.length - 1 };
    if (e.key in keys) {
      e.preventDefault();
      move(keys[e.key]);
    } else if (e.key === 'Enter' && active !== null && active < items.length) {
      e.preventDefault();
      onActivate(items[active], active);
    }
  };
  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(html`<div
      key=${i}
      role="option"
      id=${'row-' + i}
      aria-selected=${i === active}
      class=${'vrow' + (i === active ? ' active' : '')}
      style=${{ top: i * rowHeight + 'px', height: rowHeight + 'px' }}
      onClick=${() => { setActive(i); onActivate(items[i], i); }}
    >${renderRow(items[i], i)}</div>`);
  }
  return html`<div class="vlist-wrap">
    ${header}
    <div
      ref=${ref}
      class="vlist"
      role="listbox"
      tabindex="0"
      aria-label=${label}
      aria-activedescendant=${active !== null && active >= first && active < last ? 'row-' + active : undefined}
      onScroll=${onScroll}
      onKeyDown=${onKey}
      data-rendered=${last - first}
    >
      <div class="vlist-inner" style=${{ height: items.length * rowHeight + 'px' }}>${rows}</div>
    </div>
  </div>`;
}

/** Copy-to-clipboard with a fallback of selecting the text (clipboard needs a secure origin). */
export function CopyButton({ text, targetId }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 2000);
    } catch {
      const el = document.getElementById(targetId);
      if (el) window.getSelection()?.selectAllChildren(el);
    }
  };
  return html`<button type="button" onClick=${copy}>${done ? 'Copied' : 'Copy'}</button>`;
}
