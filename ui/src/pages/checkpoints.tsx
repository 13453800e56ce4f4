// Signed checkpoints of the audit chain (GET /v1/audit/checkpoints) beside the chain head and the
// server's verification (GET /v1/audit/verify), with the public keys that check them offline.
// Whether a checkpoint verifies is the server's answer (and the offline CLI's), never the console's.
import { useState } from 'preact/hooks';
import { api, type ApiFailure, query, send } from '../api';
import { DataTable } from '../components/table';
import { ErrorBox, Load } from '../components/states';
import { time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import type { AuditVerification, CheckpointView, PublishedKey, WhoAmI } from '../types';

const KEYS_URL = '/.well-known/modelgate/checkpoint-keys';
const PAGE = 100;

interface CheckpointData {
  checkpoints: CheckpointView[];
  latest: CheckpointView | null;
  keys: PublishedKey[];
  verify: AuditVerification;
}

/** Every checkpoint, oldest first, following the server's pages. */
async function loadCheckpoints(): Promise<CheckpointData> {
  const all: CheckpointView[] = [];
  let from: number | null = 1;
  let first: { latest: CheckpointView | null; keys: PublishedKey[] } | null = null;
  while (from !== null) {
    const page: { checkpoints: CheckpointView[]; nextSeq: number | null; latest: CheckpointView | null; keys: PublishedKey[] } = await api(
      `/v1/audit/checkpoints${query({ fromSeq: from, limit: PAGE })}`,
    );
    first ??= page;
    all.push(...page.checkpoints);
    from = page.nextSeq;
  }
  return { checkpoints: all, latest: first!.latest, keys: first!.keys, verify: await verifyChain() };
}

/** A broken chain answers 409 with the same body: that is the result, not a failure. */
export function verifyChain(): Promise<AuditVerification> {
  return api<AuditVerification>('/v1/audit/verify', {}, [409]);
}

export function CheckpointsPage({ me }: { me: WhoAmI }) {
  const live = useLive();
  const state = useLoad(loadCheckpoints, [live]);
  const [taking, setTaking] = useState(false);
  const [error, setError] = useState<ApiFailure | null>(null);
  if (!can.readAudit(me)) return <p class="error">Checkpoints need an auditor, approver or admin token.</p>;

  const take = async () => {
    setTaking(true);
    setError(null);
    try {
      await send('POST', '/v1/audit/checkpoints', {});
      state.reload();
    } catch (err) {
      setError(err as ApiFailure);
    } finally {
      setTaking(false);
    }
  };

  return (
    <section>
      <h1>Signed checkpoints</h1>
      <p class="muted">
        Each checkpoint is the audit chain's head (sequence and hash) signed with the server's Ed25519 key. Keep a copy outside the server:
        a rewritten log cannot match it. Public keys: <a href={KEYS_URL}>{KEYS_URL}</a>
      </p>
      {can.takeCheckpoint(me) && (
        <div class="actions">
          <button type="button" class="primary" onClick={take} disabled={taking}>
            {taking ? 'Signing…' : 'Sign the chain head now'}
          </button>
        </div>
      )}
      {error && <ErrorBox error={error} title="Checkpoint refused" />}
      <Load state={state} what="checkpoints">
        {(data) => <CheckpointsView data={data} />}
      </Load>
    </section>
  );
}

function CheckpointsView({ data }: { data: CheckpointData }) {
  const v = data.verify;
  const tally = v.checkpoints;
  const latest = data.latest;
  return (
    <>
      <h2>Chain</h2>
      <div class={`verify ${v.ok ? 'ok' : 'broken'}`} role="status" data-testid="chain-status">
        <strong>{v.ok ? 'Chain verified' : 'Chain BROKEN'}</strong>
        <dl class="facts">
          <dt>Head</dt>
          <dd>
            seq <span data-testid="head-seq">{v.headSeq}</span> <code class="wrap digest">{v.headHash}</code>
          </dd>
          <dt>Entries checked</dt>
          <dd>{v.entries}</dd>
          {v.firstBad && (
            <>
              <dt>First bad entry</dt>
              <dd>
                seq {v.firstBad.seq}: {v.firstBad.reason}
              </dd>
            </>
          )}
          {tally && (
            <>
              <dt>Checkpoints</dt>
              <dd data-testid="checkpoint-tally">
                {tally.verified} verified, {tally.unverifiable} signed by an unknown key
                {tally.unknownKeys.length > 0 && ` (${tally.unknownKeys.join(', ')})`}
              </dd>
            </>
          )}
        </dl>
      </div>

      <h2>Latest checkpoint</h2>
      {latest ? (
        <dl class="facts" data-testid="latest-checkpoint">
          <dt>Covers</dt>
          <dd>
            seq {latest.seq} <code class="wrap digest">{latest.hash}</code>
          </dd>
          <dt>Signed</dt>
          <dd>
            {time(latest.at)} by key <code>{latest.keyId}</code>
          </dd>
          <dt>Behind the head</dt>
          <dd>{v.headSeq - latest.seq} entries</dd>
          <dt>Signature</dt>
          <dd>
            <code class="wrap details">{latest.signature}</code>
          </dd>
          <dt>Check offline</dt>
          <dd>
            <code class="wrap">{`modelgate audit verify --offline audit.jsonl --public-key key.pem --expect-head ${latest.seq}:${latest.hash}`}</code>
          </dd>
        </dl>
      ) : (
        <p class="empty">No checkpoint has been signed yet.</p>
      )}

      <h2>Keys</h2>
      {data.keys.length === 0 ? (
        <p class="muted">This server publishes no checkpoint key.</p>
      ) : (
        <DataTable class="keys" columns={['Key', 'Status', 'Public key']}>
          <tbody>
            {data.keys.map((k) => (
              <tr key={k.keyId}>
                <td>
                  <code>{k.keyId}</code>
                </td>
                <td>{k.status}</td>
                <td>
                  <pre class="pem">{k.publicKey}</pre>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}

      <h2>All checkpoints</h2>
      {data.checkpoints.length === 0 ? (
        <p class="empty">None.</p>
      ) : (
        <DataTable class="checkpoints" columns={['Seq', 'Hash', 'Signed at', 'Key', 'Recorded as entry']}>
          <tbody>
            {[...data.checkpoints].reverse().map((c) => (
              <tr key={c.entrySeq}>
                <td>{c.seq}</td>
                <td>
                  <code class="wrap digest">{c.hash}</code>
                </td>
                <td class="nowrap">{time(c.at)}</td>
                <td>
                  <code>{c.keyId}</code>
                </td>
                <td>{c.entrySeq}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </>
  );
}
