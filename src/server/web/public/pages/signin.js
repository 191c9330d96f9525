// Sign-in with the admin token. The token is read from the field in the submit handler,
// posted once, and the field is cleared; from then on a session cookie (HttpOnly) is used.
import { html, useRef, useState } from '../lib/html.js';
import { signIn } from '../lib/api.js';
import { ErrorNote } from '../lib/ui.js';

export function SignIn() {
  const input = useRef(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const field = input.current;
    const token = field.value.trim();
    field.value = '';
    if (!token) {
      setError(new Error('Paste the admin token first.'));
      field.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(token);
    } catch (err) {
      setError(err);
      field.focus();
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin" id="main">
    <form onSubmit=${submit} class="card" aria-labelledby="signin-title">
      <h1 id="signin-title"><img src="/console/favicon.svg" alt="" width="28" height="28" /> synmac console</h1>
      <p class="muted">Sign in with this server's admin token. It is in <code>DATA_DIR/admin-token</code> on the server.</p>
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" ref=${input} autocomplete="off" spellcheck="false" autofocus required />
      <${ErrorNote} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}
