import { useState } from 'preact/hooks';
import { api, modelPath } from '../api';
import { ModelCard } from '../components/card';
import { DecideForm } from '../components/decide';
import { JsonDiff } from '../components/diff';
import { PolicyStatus } from '../components/policy';
import { Load } from '../components/states';
import { time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import { href } from '../router';
import type { PendingVersion, Version, WhoAmI } from '../types';

const record = (v: Pick<Version, 'card' | 'metrics'> & Partial<Version>) => ({
  card: v.card,
  metrics: v.metrics,
  lineage: v.lineage,
  metadata: v.metadata,
});

export function ApprovalsPage({ me }: { me: WhoAmI }) {
  const live = useLive();
  const state = useLoad(
    () => api<{ versions: PendingVersion[]; nextCursor: string | null }>('/v1/approvals?status=pending&limit=200'),
    [live],
  );
  return (
    <section>
      <h1>Approvals</h1>
      <p class="muted">Versions no one has approved or rejected yet.</p>
      <Load state={state} what="the approval queue">
        {(page) =>
          page.versions.length === 0 ? (
            <p class="empty">Nothing is waiting for a decision.</p>
          ) : (
            <ul class="queue">
              {page.versions.map((p) => (
                <li key={`${p.name}@${p.version}`} class="pending" data-pending={`${p.name}@v${p.version}`}>
                  <PendingItem pending={p} me={me} onDone={state.reload} />
                </li>
              ))}
            </ul>
          )
        }
      </Load>
    </section>
  );
}

function PendingItem({ pending: p, me, onDone }: { pending: PendingVersion; me: WhoAmI; onDone: () => void }) {
  const mine = p.approvals.some((a) => a.approver.id === me.id);
  return (
    <article aria-label={`${p.name}@v${p.version}`}>
      <h2 class="wrap">
        <a href={href.version(p.name, p.version)}>
          {p.name}@v{p.version}
        </a>
      </h2>
      <p class="muted">
        registered {time(p.createdAt)} by <span class="wrap">{p.createdBy}</span> · {p.approvals.length} decision(s)
      </p>
      <p class="summary">
        {p.policy.map((a) => (
          <span key={a.alias} class={`badge ${a.unmet.length ? 'gate-unmet' : 'gate-met'}`}>
            @{a.alias}: {a.unmet.length ? `${a.unmet.length} unmet` : 'gates met'}
          </span>
        ))}
        {Object.entries(p.metrics).map(([name, m]) => (
          <span key={name} class="badge metric">
            {name} {m.value}
          </span>
        ))}
      </p>
      <details>
        <summary>Policy status</summary>
        <PolicyStatus aliases={p.policy} />
      </details>
      <details>
        <summary>Model card and metrics</summary>
        <ModelCard card={p.card} />
        <pre class="json">{JSON.stringify(p.metrics, null, 2)}</pre>
      </details>
      {p.previousApproved !== null && <SinceApproved pending={p} />}
      {can.approve(me) && !mine && <DecideForm name={p.name} version={p.version} onDone={onDone} />}
      {mine && <p class="muted">You have decided on this version.</p>}
    </article>
  );
}

/** The record's diff against the newest earlier approved version, loaded when first opened. */
function SinceApproved({ pending }: { pending: PendingVersion }) {
  const [opened, setOpened] = useState(false);
  return (
    <details onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && setOpened(true)}>
      <summary>Changes since v{pending.previousApproved} (last approved)</summary>
      {opened && <DiffLoader pending={pending} />}
    </details>
  );
}

function DiffLoader({ pending }: { pending: PendingVersion }) {
  const state = useLoad(async () => {
    const base = `/v1/models/${modelPath(pending.name)}/versions`;
    const [before, after] = await Promise.all([
      api<Version>(`${base}/${pending.previousApproved}`),
      api<Version>(`${base}/${pending.version}`),
    ]);
    return { before, after };
  }, [pending.name, pending.version, pending.previousApproved]);
  return (
    <Load state={state} what="the diff">
      {({ before, after }) => <JsonDiff before={record(before)} after={record(after)} label={`v${before.version} to v${after.version}`} />}
    </Load>
  );
}
