// What runs where, from the fleet telemetry API: GET /v1/fleet (every model in scope, instances per
// version), GET /v1/fleet?model= (versions, alias convergence with stragglers, instances) and
// GET /v1/fleet/history. Grouping and straggler rules are the server's; the console only lays out.
import { api, type ApiFailure, query } from '../api';
import { DownloadButton } from '../components/download-button';
import { stamp } from '../download';
import { DataTable } from '../components/table';
import { Load } from '../components/states';
import { bytes, shortDigest, time } from '../format';
import { useFleetLive, useLive } from '../live';
import { useLoad } from '../load';
import { href } from '../router';
import type { AliasConvergence, FleetView, HistorySpan } from '../types';

interface OverviewRow {
  model: string;
  instances: number;
  versions: { version: number; digest: string; instances: number }[];
}

/** Every page of the overview (one row per model; the server pages it by model name with `nextCursor`). */
async function loadOverview(): Promise<OverviewRow[]> {
  const rows: OverviewRow[] = [];
  let cursor: string | undefined;
  do {
    const page: { models: OverviewRow[]; nextCursor: string | null } = await api(`/v1/fleet${query({ cursor })}`);
    rows.push(...page.models);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return rows;
}

export function FleetPage() {
  const live = useLive();
  // Registry changes and the fleet's own summaries on /v1/watch (new instances, versions, stragglers).
  const fleetLive = useFleetLive();
  const state = useLoad(loadOverview, [live, fleetLive]);
  return (
    <section>
      <h1>Fleet</h1>
      <p class="muted">
        Instances seen resolving or downloading a version (or reporting what they loaded), grouped by the version they run.
      </p>
      <Unregistered live={live} />
      <Load state={state} what="the fleet">
        {(rows) =>
          rows.length === 0 ? (
            <p class="empty">No instance has been seen yet.</p>
          ) : (
            <DataTable class="fleet" columns={['Model', 'Instances', 'Versions running']}>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.model} data-fleet-model={r.model}>
                    <td class="wrap">
                      <a href={href.fleetModel(r.model)}>{r.model}</a>
                    </td>
                    <td>{r.instances}</td>
                    <td>
                      {r.versions.map((v) => (
                        <span key={v.version} class="badge" title={v.digest}>
                          v{v.version}: {v.instances}
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </DataTable>
          )
        }
      </Load>
    </section>
  );
}

interface Artifact {
  digest: string;
  deployment: string;
  instance: string;
  paths: string[];
  size: number;
  firstSeen: string;
  lastSeen: string;
  reports: number;
}

/**
 * Weights runtimes reported loading that no registered version lists. Who may read them is the
 * server's rule: the section shows what GET /v1/fleet/unregistered answers, and nothing on 403.
 */
function Unregistered({ live }: { live: number }) {
  const reported = useFleetLive('unregistered');
  const state = useLoad(
    () =>
      api<{ artifacts: Artifact[] }>('/v1/fleet/unregistered').then(
        (r) => r.artifacts,
        (err: ApiFailure) => {
          if (err.status === 403) return null;
          throw err;
        },
      ),
    [live, reported],
  );
  if (state.data === null && !state.error) return null;
  return (
    <>
      <h2>Unregistered weights</h2>
      <Load state={state} what="unregistered weights">
        {(list) =>
          list === null ? null : list.length === 0 ? (
            <p class="empty">No runtime has reported weights that no version lists.</p>
          ) : (
            <DataTable class="unregistered" columns={['Digest', 'Deployment / instance', 'Paths', 'Size', 'Reports', 'Last seen']}>
              <tbody>
                {list.map((a) => (
                  <tr key={`${a.digest}/${a.deployment}/${a.instance}`} data-digest={a.digest}>
                    <td>
                      <code title={a.digest}>{shortDigest(a.digest)}</code>
                    </td>
                    <td class="wrap">
                      {a.deployment}/{a.instance}
                    </td>
                    <td class="wrap">{a.paths.join(', ')}</td>
                    <td>{bytes(a.size)}</td>
                    <td>{a.reports}</td>
                    <td class="nowrap">{time(a.lastSeen)}</td>
                  </tr>
                ))}
              </tbody>
            </DataTable>
          )
        }
      </Load>
      <h2>Models</h2>
    </>
  );
}

async function loadModelFleet(name: string, page: InstancePage): Promise<{ view: FleetView; history: HistorySpan[] }> {
  const [view, history] = await Promise.all([
    api<FleetView>(`/v1/fleet${query({ model: name, ...page })}`),
    api<{ spans: HistorySpan[] }>(`/v1/fleet/history${query({ model: name })}`),
  ]);
  return { view, history: history.spans };
}

/** Which page of a model's instances: the server's cursor and page size, carried in the console's URL. */
interface InstancePage {
  cursor: string;
  limit: string;
}

/** One model's fleet; its instance list is one server page at a time (`?cursor=&limit=` in the console's URL). */
export function FleetModelPage({ name, params }: { name: string; params: URLSearchParams }) {
  const live = useLive(name);
  const fleetLive = useFleetLive({ model: name });
  const page: InstancePage = { cursor: params.get('cursor') ?? '', limit: params.get('limit') ?? '' };
  const state = useLoad(() => loadModelFleet(name, page), [name, page.cursor, page.limit, live, fleetLive]);
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.fleet()}>Fleet</a> / <a href={href.model(name)}>{name}</a>
      </nav>
      <h1 class="wrap">Fleet of {name}</h1>
      <Load state={state} what={`the fleet of ${name}`}>
        {(data) => <ModelFleet name={name} view={data.view} history={data.history} page={page} />}
      </Load>
    </section>
  );
}

function ModelFleet({ name, view, history, page }: { name: string; view: FleetView; history: HistorySpan[]; page: InstancePage }) {
  return (
    <>
      <p class="muted">As of {time(view.generatedAt)}.</p>
      <h2>By version</h2>
      {view.versions.length === 0 ? (
        <p class="empty">No instance runs this model now.</p>
      ) : (
        <DataTable class="fleet-versions" columns={['Version', 'Digest', 'Instances', 'Deployments']}>
          <tbody>
            {view.versions.map((g) => (
              <tr key={g.version} data-version={g.version}>
                <td>
                  <a href={href.version(name, g.version)}>v{g.version}</a>
                </td>
                <td>
                  <code title={g.digest}>{shortDigest(g.digest)}</code>
                </td>
                <td>{g.instances}</td>
                <td class="wrap">{g.deployments.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}

      <h2>Aliases</h2>
      {view.aliases.length === 0 ? (
        <p class="muted">No alias.</p>
      ) : (
        view.aliases.map((a) => <Convergence key={a.alias} name={name} a={a} />)
      )}

      <h2>Instances</h2>
      {view.instances.length === 0 ? (
        <p class="empty">None.</p>
      ) : (
        <DataTable
          class="instances"
          columns={['Deployment / instance', 'Version', 'Last resolved', 'Last downloaded', 'Last seen', 'Seen by']}
        >
          <tbody>
            {view.instances.map((i) => (
              <tr key={`${i.deployment}/${i.instance}`}>
                <td class="wrap">
                  {i.deployment}/{i.instance}
                </td>
                <td>v{i.version}</td>
                <td class="wrap">{i.resolved ? `${i.resolved.ref} → v${i.resolved.version} at ${time(i.resolved.at)}` : '—'}</td>
                <td class="wrap">{i.downloaded ? `v${i.downloaded.version} at ${time(i.downloaded.at)}` : '—'}</td>
                <td class="nowrap">{time(i.lastSeen)}</td>
                <td class="wrap">
                  {i.node} ({i.via})
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      {(page.cursor || view.nextCursor) && (
        <nav class="pager" aria-label="Instance pages">
          {page.cursor && <a href={`${href.fleetModel(name)}${query({ limit: page.limit })}`}>First instances</a>}{' '}
          {view.nextCursor && (
            <a rel="next" href={`${href.fleetModel(name)}${query({ limit: page.limit, cursor: view.nextCursor })}`}>
              Next instances
            </a>
          )}
        </nav>
      )}

      <h2>History</h2>
      {history.length === 0 ? (
        <p class="empty">None.</p>
      ) : (
        <DataTable class="fleet-history" columns={['Version', 'Deployment / instance', 'From', 'Until', 'Resolves', 'Downloads']}>
          <tbody>
            {history.map((s) => (
              <tr key={`${s.version}-${s.deployment}/${s.instance}`}>
                <td>v{s.version}</td>
                <td class="wrap">
                  {s.deployment}/{s.instance}
                </td>
                <td class="nowrap">{time(s.from)}</td>
                <td class="nowrap">{time(s.until)}</td>
                <td>{s.resolves}</td>
                <td>{s.downloads}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      <DownloadButton
        label="Download the history (JSON lines)"
        path={`/v1/fleet/history${query({ model: name, format: 'jsonl' })}`}
        filename={`fleet-${name.replace(/\//g, '_')}-${stamp()}.jsonl`}
      />
    </>
  );
}

function Convergence({ name, a }: { name: string; a: AliasConvergence }) {
  const behind = a.pending.length + a.stragglers.length;
  return (
    <div class={`policy-alias ${a.converged ? 'met' : 'unmet'}`} data-convergence={a.alias}>
      <h3>
        <a href={href.model(name)}>@{a.alias}</a> → v{a.version}:{' '}
        {a.converged ? 'converged' : `${behind} behind (${a.stragglers.length} straggler${a.stragglers.length === 1 ? '' : 's'})`}
      </h3>
      <p class="muted">
        moved {time(a.movedAt)} · {a.current} instance(s) on v{a.version}
      </p>
      {behind > 0 && (
        <ul class="lagging">
          {[...a.stragglers.map((l) => ({ ...l, kind: 'straggler' })), ...a.pending.map((l) => ({ ...l, kind: 'pending' }))].map((l) => (
            <li key={`${l.deployment}/${l.instance}`} data-kind={l.kind}>
              <strong>{l.kind}</strong> {l.deployment}/{l.instance} still on v{l.version} (resolved {time(l.resolvedAt)}, last seen{' '}
              {time(l.lastSeen)})
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
