import { useState } from 'preact/hooks';
import { api, type ApiFailure, query } from '../api';
import { download, stamp } from '../download';
import { ErrorBox, Load } from '../components/states';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import { href, navigate } from '../router';
import type { AuditVerification, ChainLine, WhoAmI } from '../types';
import { verifyChain } from './checkpoints';
import { AuditTable } from './version';

const FILTERS = ['model', 'actor', 'action', 'fromSeq'] as const;
const PAGE = 200;

export function AuditPage({ params, me }: { params: URLSearchParams; me: WhoAmI }) {
  const live = useLive();
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']));
  const state = useLoad(
    () => api<{ entries: ChainLine[]; nextSeq: number | null }>(`/v1/audit${query({ ...filters, limit: PAGE })}`),
    [params.toString(), live],
  );
  const [verify, setVerify] = useState<AuditVerification | null>(null);
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
      setVerify(await verifyChain());
    } catch (err) {
      setError(err as ApiFailure);
    } finally {
      setVerifying(false);
    }
  };
  const exportLog = async () => {
    setError(null);
    try {
      await download(`/v1/audit${query({ ...filters, format: 'jsonl', limit: 10000 })}`, `modelgate-audit-${stamp()}.jsonl`);
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
        <div class={`verify ${verify.ok ? 'ok' : 'broken'}`} role="status" data-testid="verify-result">
          <strong>{verify.ok ? 'Chain verified' : 'Chain BROKEN'}</strong>
          <pre class="json">{JSON.stringify(verify, null, 2)}</pre>
        </div>
      )}
      {error && <ErrorBox error={error} title="Audit request failed" />}
      {/* Uncontrolled inputs, renewed when the URL's filters change: see the inventory page. */}
      <form key={params.toString()} class="filters" aria-label="Filter the audit log" onSubmit={submit}>
        <div>
          <label for="a-model">Model or target</label>
          <input id="a-model" name="model" defaultValue={filters.model} placeholder="team/fraud" />
        </div>
        <div>
          <label for="a-actor">Actor</label>
          <input id="a-actor" name="actor" defaultValue={filters.actor} />
        </div>
        <div>
          <label for="a-action">Action</label>
          <input id="a-action" name="action" defaultValue={filters.action} placeholder="alias" />
        </div>
        <div>
          <label for="a-from">From seq</label>
          <input id="a-from" name="fromSeq" inputMode="numeric" pattern="[0-9]*" defaultValue={filters.fromSeq} />
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
