import { useState } from 'preact/hooks';
import { api, apiFetch, ApiFailure, query } from '../api';
import { session } from '../session';
import { ErrorBox, Load } from '../components/states';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import { href, navigate } from '../router';
import type { AuditEntry, WhoAmI } from '../types';
import { AuditTable } from './version';

const FILTERS = ['model', 'actor', 'action', 'fromSeq'] as const;
const PAGE = 200;

interface Verify {
  ok: boolean;
  [key: string]: unknown;
}

export function AuditPage({ params, me }: { params: URLSearchParams; me: WhoAmI }) {
  const live = useLive();
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']));
  const state = useLoad(
    () => api<{ entries: AuditEntry[]; nextSeq: number | null }>(`/v1/audit${query({ ...filters, limit: PAGE })}`),
    [params.toString(), live],
  );
  const [verify, setVerify] = useState<{ status: number; body: Verify } | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [error, setError] = useState<ApiFailure | null>(null);

  if (!can.readAudit(me)) return <p class="error">The audit log needs an approver or admin token scoped to "*".</p>;

  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(href.audit(query(Object.fromEntries(FILTERS.map((k) => [k, String(data.get(k) ?? '').trim()])))));
  };
  const runVerify = async () => {
    setVerifying(true);
    setError(null);
    try {
      // A broken chain answers 409 with the same body: show it, it is the result.
      const res = await fetch('/v1/audit/verify', {
        headers: { Authorization: `Bearer ${session.token()}` },
        credentials: 'omit',
        cache: 'no-store',
      });
      const body = (await res.json().catch(() => ({}))) as Verify & { error?: ApiFailure['error'] };
      if (res.status !== 200 && res.status !== 409)
        throw new ApiFailure(res.status, body.error ?? { code: `HTTP_${res.status}`, message: 'verification failed' });
      setVerify({ status: res.status, body });
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, { code: 'NETWORK', message: 'the server cannot be reached' }));
    } finally {
      setVerifying(false);
    }
  };
  const exportLog = async () => {
    setError(null);
    try {
      const res = await apiFetch(`/v1/audit${query({ ...filters, format: 'jsonl', limit: 10000 })}`);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `modelgate-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err as ApiFailure);
    }
  };

  return (
    <section>
      <h1>Audit log</h1>
      <div class="actions">
        <button type="button" onClick={runVerify} disabled={verifying}>
          {verifying ? 'Verifying…' : 'Verify the chain'}
        </button>
        <button type="button" onClick={exportLog}>
          Export (JSON lines)
        </button>
      </div>
      {verify && (
        <div class={`verify ${verify.body.ok ? 'ok' : 'broken'}`} role="status" data-testid="verify-result">
          <strong>{verify.body.ok ? 'Chain verified' : 'Chain BROKEN'}</strong>
          <pre class="json">{JSON.stringify(verify.body, null, 2)}</pre>
        </div>
      )}
      {error && <ErrorBox error={error} title="Audit request failed" />}
      <form class="filters" aria-label="Filter the audit log" onSubmit={submit}>
        <div>
          <label for="a-model">Model or target</label>
          <input id="a-model" name="model" value={filters.model} placeholder="team/fraud" />
        </div>
        <div>
          <label for="a-actor">Actor</label>
          <input id="a-actor" name="actor" value={filters.actor} />
        </div>
        <div>
          <label for="a-action">Action</label>
          <input id="a-action" name="action" value={filters.action} placeholder="alias" />
        </div>
        <div>
          <label for="a-from">From seq</label>
          <input id="a-from" name="fromSeq" inputMode="numeric" pattern="[0-9]*" value={filters.fromSeq} />
        </div>
        <button type="submit">Filter</button>
      </form>
      <Load state={state} what="the audit log">
        {(page) => (
          <>
            {page.entries.length === 0 ? <p class="empty">No entries match.</p> : <AuditTable entries={page.entries} />}
            {page.nextSeq !== null && (
              <nav class="pager" aria-label="Pages">
                <a rel="next" href={href.audit(query({ ...filters, fromSeq: page.nextSeq }))}>
                  Next entries
                </a>
              </nav>
            )}
          </>
        )}
      </Load>
    </section>
  );
}
