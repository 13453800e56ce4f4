import { api, modelPath, query } from '../api';
import { ModelCard } from '../components/card';
import { DecideForm } from '../components/decide';
import { Evidence } from '../components/evidence';
import { JsonDiff } from '../components/diff';
import { LineageGraph } from '../components/lineage';
import { PolicyStatus } from '../components/policy';
import { RetireButton } from '../components/retire';
import { Load } from '../components/states';
import { bytes, pretty, shortDigest, time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import { href } from '../router';
import type {
  AliasPolicyStatus,
  Approval,
  AuditEntry,
  ChainLine,
  LineageGraphData,
  RedactedEntry,
  VersionEvent,
  VersionView,
  WhoAmI,
} from '../types';
import { DataTable } from '../components/table';

interface VersionData {
  version: VersionView;
  lineage: LineageGraphData;
  events: VersionEvent[];
  approvals: Approval[];
  policy: AliasPolicyStatus[];
}

async function loadVersion(name: string, n: number): Promise<VersionData> {
  const base = `/v1/models/${modelPath(name)}/versions/${n}`;
  const [version, history, policy, lineage] = await Promise.all([
    api<VersionView>(base),
    api<{ events: VersionEvent[]; approvals: Approval[] }>(`${base}/history`),
    api<{ aliases: AliasPolicyStatus[] }>(`${base}/policy`),
    api<LineageGraphData>(`/v1/models/${modelPath(name)}/lineage${query({ ref: `v${n}` })}`),
  ]);
  return { version, lineage, events: history.events, approvals: history.approvals, policy: policy.aliases };
}

export function VersionPage({ name, version, me }: { name: string; version: number; me: WhoAmI }) {
  const live = useLive(name);
  const state = useLoad(() => loadVersion(name, version), [name, version, live]);
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.inventory()}>Models</a> / <a href={href.model(name)}>{name}</a> / <span>v{version}</span>
      </nav>
      <Load state={state} what={`${name}@v${version}`}>
        {(data) => <VersionBody data={data} me={me} reload={state.reload} live={live} />}
      </Load>
    </section>
  );
}

function VersionBody({ data, me, reload, live }: { data: VersionData; me: WhoAmI; reload: () => void; live: number }) {
  const v = data.version;
  // One decision per approver and record (as the server counts): after an edit an approver decides again.
  const decided = data.approvals.some((a) => a.approver.id === me.id && a.recordDigest === v.recordDigest);
  return (
    <>
      <header class="page-head">
        <h1 class="wrap">
          {v.name}@v{v.version} <span class={`status status-${v.status}`}>{v.status}</span>
        </h1>
        <p class="muted">
          <code class="wrap digest">{v.digest}</code> · {bytes(v.size)} · registered {time(v.createdAt)} by{' '}
          <span class="wrap">{v.createdBy}</span>
        </p>
        <p class="muted" data-testid="record-digest">
          record <code class="wrap digest">{v.recordDigest}</code>
          {v.recordChangedAt && <> · last changed {time(v.recordChangedAt)}</>}
        </p>
        {can.approve(me) && v.status !== 'retired' && (
          <div class="actions">
            <RetireButton version={v} onDone={reload} />
          </div>
        )}
      </header>
      {v.servingUnapproved && (
        <p class="notice" role="status" data-testid="serving-unapproved">
          Serving on {v.servingUnapproved.aliases.map((a) => `@${a}`).join(', ')} on a record not yet re-approved since{' '}
          {time(v.servingUnapproved.since)} ({v.servingUnapproved.since}). An approver re-approves the current record.
        </p>
      )}

      <h2>Policy status</h2>
      <PolicyStatus aliases={data.policy} />

      <h2>Approvals</h2>
      {data.approvals.length === 0 ? (
        <p class="muted">No decisions yet.</p>
      ) : (
        <ul class="approvals">
          {data.approvals.map((a) => (
            <li key={a.seq} data-approval={a.seq}>
              <span class={`status status-${a.decision === 'approve' ? 'approved' : 'rejected'}`}>{a.decision}</span> by{' '}
              <span class="wrap">{a.approver.name}</span> at {time(a.at)} <RecordBinding approval={a} current={v.recordDigest} />
              {a.comment && <blockquote class="prose">{a.comment}</blockquote>}
            </li>
          ))}
        </ul>
      )}
      {can.approve(me) && v.status === 'registered' && !decided && <DecideForm name={v.name} version={v.version} onDone={reload} />}

      <h2>Model card</h2>
      <ModelCard card={v.card} />

      <h2>Lineage</h2>
      <LineageGraph version={v} graph={data.lineage} />

      <Evidence name={v.name} version={v.version} seq={v.seq} />

      <h2>Record</h2>
      <pre class="json">{pretty({ metadata: v.metadata, lineage: v.lineage, metrics: v.metrics, card: v.card })}</pre>

      <h2>Record history</h2>
      <ol class="history">
        {data.events.map((e) => (
          <li key={e.seq}>
            <p>
              <strong>{e.action}</strong> by <span class="wrap">{e.actor.name}</span> at {time(e.at)} (seq {e.seq})
            </p>
            {e.comment && <blockquote class="prose">{e.comment}</blockquote>}
            {e.changes &&
              Object.entries(e.changes).map(([field, change]) => (
                <div key={field}>
                  <h3 class="field">{field}</h3>
                  <JsonDiff before={change.before} after={change.after} label={`${field} before and after seq ${e.seq}`} />
                </div>
              ))}
          </li>
        ))}
      </ol>

      {can.readAudit(me) && <VersionAudit name={v.name} version={v.version} live={live} />}
    </>
  );
}

/**
 * Which record an approval or rejection was given on, and whether that is the record now: gates
 * count only approvals of the current record, while a rejection is final whatever was edited after.
 */
function RecordBinding({ approval: a, current }: { approval: Approval; current: string }) {
  if (!a.recordDigest) return <span class="muted">(given before decisions named their record)</span>;
  const now = a.recordDigest === current;
  return (
    <span class={now ? 'record-current' : 'record-void'}>
      on record <code title={a.recordDigest}>{shortDigest(a.recordDigest)}</code>{' '}
      {now ? (
        <span class="badge">current record</span>
      ) : a.decision === 'approve' ? (
        <span class="badge protected">earlier record: void</span>
      ) : (
        <span class="badge">earlier record: the rejection stands</span>
      )}
    </span>
  );
}

/** Audit entries about this version: its own (name@vN) and alias moves to or from it. */
function VersionAudit({ name, version, live }: { name: string; version: number; live: number }) {
  const state = useLoad(async () => {
    const res = await api<{ entries: ChainLine[] }>(`/v1/audit${query({ model: name, limit: 10000 })}`);
    return res.entries.filter(
      (e): e is AuditEntry =>
        !isRedacted(e) &&
        (e.target === `${name}@v${version}` || (e.action.startsWith('alias.') && (e.details.from === version || e.details.to === version))),
    );
  }, [name, version, live]);
  return (
    <>
      <h2>Audit entries</h2>
      <Load state={state} what="audit entries">
        {(entries) => (entries.length === 0 ? <p class="muted">None.</p> : <AuditTable entries={entries} />)}
      </Load>
    </>
  );
}

/** Entries outside a scoped token's scope come as their place in the chain only (seq and hashes); a compound one with steps on both sides, in part. */
export function AuditTable({ entries }: { entries: ChainLine[] }) {
  return (
    <DataTable class="audit" columns={['Seq', 'Time', 'Actor', 'Action', 'Target', 'Details']}>
      <tbody>
        {entries.map((e) =>
          isRedacted(e) ? (
            <tr key={e.seq} class="redacted">
              <td>{e.seq}</td>
              <td colSpan={4} class="muted">
                outside your scope: only its place in the chain is shown
              </td>
              <td>
                <code class="wrap details">{e.hash}</code>
              </td>
            </tr>
          ) : (
            <tr key={e.seq} class={isPartial(e) ? 'partial' : undefined}>
              <td>{e.seq}</td>
              <td class="nowrap">{time(e.at)}</td>
              <td class="wrap">{e.actor.name}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td class="wrap">{e.target}</td>
              <td>
                {isPartial(e) ? <p class="muted">steps outside your scope are shown as their digests only</p> : null}
                <code class="wrap details">{JSON.stringify(e.details)}</code>
              </td>
            </tr>
          ),
        )}
      </tbody>
    </DataTable>
  );
}

export function isRedacted(e: ChainLine): e is RedactedEntry {
  return 'redacted' in e && e.redacted === true;
}

/** A compound entry shown in part: some of its steps are outside the reader's scope (domain/audit-scope.ts). */
function isPartial(e: ChainLine): boolean {
  return 'partial' in e && e.partial === true;
}
