import { useState } from 'preact/hooks';
import { ApiFailure } from '../api';
import { ErrorBox } from '../components/states';
import { href, navigate } from '../router';
import { session } from '../session';
import type { WhoAmI } from '../types';

/** Paste a token; it is checked with /v1/whoami, then kept in sessionStorage and never shown again. */
export function SignInPage({ expired }: { expired: boolean }) {
  const [error, setError] = useState<ApiFailure | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/v1/whoami', { headers: { Authorization: `Bearer ${token}` }, credentials: 'omit', cache: 'no-store' });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new ApiFailure(res.status, body.error ?? { code: `HTTP_${res.status}`, message: 'sign-in failed' });
      input.value = '';
      session.signIn(token, body as WhoAmI);
      if (location.pathname === href.signin()) navigate(href.inventory(), true);
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, { code: 'NETWORK', message: 'the server cannot be reached' }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="signin">
      <h1>Sign in to modelgate</h1>
      {expired && (
        <p class="notice" role="status">
          Your token was refused (revoked or expired). Sign in again.
        </p>
      )}
      <form onSubmit={submit} autocomplete="off">
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          placeholder="mgt_…"
          aria-describedby="token-help"
        />
        <p id="token-help" class="muted">
          Paste a modelgate token. It stays in this tab only (sessionStorage) and is sent as a Bearer header; no cookie is set.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      {error && <ErrorBox error={error} title="Sign-in failed" />}
    </section>
  );
}
