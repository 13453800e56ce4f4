import { useState } from 'preact/hooks';
import { api, modelPath, type ApiFailure } from '../api';
import { ModelCard } from '../components/card';
import { AliasTimeline, MetricsChart } from '../components/charts';
import { CopyField } from '../components/copy';
import { VersionLineage } from '../components/lineage';
import { MoveDialog, planRollback, type PlannedMove } from '../components/moves';
import { ErrorBox, Load } from '../components/states';
import { bytes, shortDigest, time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import { href } from '../router';
import type { AliasEvent, InventoryModel, Version, WhoAmI } from '../types';
import { DataTable } from '../components/table';

interface ModelData {
  model: InventoryModel & { aliases: Record<string, number> };
  versions: Version[];
  history: AliasEvent[];
}

async function loadModel(name: string): Promise<ModelData> {
  const base = `/v1/models/${modelPath(name)}`;
  const [model, list] = await Promise.all([api<ModelData['model']>(base), api<{ versions: Version[] }>(`${base}/versions?limit=1000`)]);
  const histories = await Promise.all(
    Object.keys(model.aliases).map((a) => api<{ history: AliasEvent[] }>(`${base}/aliases/${encodeURIComponent(a)}/history`)),
  );
  const history = histories.flatMap((h) => h.history).sort((a, b) => a.seq - b.seq);
  return { model, versions: list.versions, history };
}

export function ModelPage({ name, me }: { name: string; me: WhoAmI }) {
  const live = useLive(name);
  const state = useLoad(() => loadModel(name), [name, live]);
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.inventory()}>Models</a> / <span>{name}</span>
      </nav>
      <Load state={state} what={`model ${name}`}>
        {(data) => <ModelView data={data} me={me} reload={state.reload} />}
      </Load>
    </section>
  );
}

function ModelView({ data, me, reload }: { data: ModelData; me: WhoAmI; reload: () => void }) {
  const { model, versions, history } = data;
  const newestFirst = [...versions].sort((a, b) => b.version - a.version);
  const [move, setMove] = useState<PlannedMove | null>(null);
  const [planError, setPlanError] = useState<ApiFailure | null>(null);
  const [ref, setRef] = useState<string>(() =>
    model.aliases.production ? 'production' : newestFirst[0] ? `v${newestFirst[0].version}` : '',
  );
  const refVersion = ref.startsWith('v') && /^v[0-9]+$/.test(ref) ? Number(ref.slice(1)) : model.aliases[ref];
  const shown = versions.find((v) => v.version === refVersion) ?? newestFirst[0];

  const rollback = async (alias: string) => {
    setPlanError(null);
    try {
      const plan = await planRollback(model.name, alias);
      setMove({ kind: 'rollback', alias, from: plan.from, to: plan.to, protected: me.protectedAliases.includes(alias) });
    } catch (err) {
      setPlanError(err as ApiFailure);
    }
  };
  const promote = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const alias = String(form.get('alias') ?? '').trim();
    const to = Number(form.get('version'));
    if (!alias || !to) return;
    setPlanError(null);
    setMove({ kind: 'promote', alias, from: model.aliases[alias] ?? null, to, protected: me.protectedAliases.includes(alias) });
  };
  const movable = (alias: string) => can.moveAlias(me, alias);
  const aliasNames = [...new Set([...Object.keys(model.aliases), ...me.protectedAliases, 'staging', 'canary', 'shadow'])].filter(movable);

  return (
    <>
      <header class="page-head">
        <h1 class="wrap">{model.name}</h1>
        {model.description && <p class="prose">{model.description}</p>}
        <p class="muted">
          owner <span class="wrap">{model.owner}</span> · updated {time(model.updatedAt)}{' '}
          {model.tags.map((t) => (
            <span key={t} class="badge tag">
              {t}
            </span>
          ))}{' '}
          · <a href={href.fleetModel(model.name)}>where it runs</a>
        </p>
      </header>

      <h2>Aliases</h2>
      {Object.keys(model.aliases).length === 0 ? (
        <p class="muted">No aliases yet.</p>
      ) : (
        <ul class="aliases">
          {Object.entries(model.aliases).map(([alias, v]) => (
            <li key={alias} data-alias={alias}>
              <span class="badge alias">{alias}</span> → <a href={href.version(model.name, v)}>v{v}</a>
              {me.protectedAliases.includes(alias) && <span class="badge protected">protected</span>}
              {movable(alias) && (
                <button type="button" onClick={() => rollback(alias)}>
                  Roll back {alias}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {planError && <ErrorBox error={planError} title="Cannot roll back" />}

      {aliasNames.length > 0 && versions.length > 0 && (
        <form class="promote" onSubmit={promote} aria-label="Promote a version">
          <div>
            <label for="promote-alias">Alias</label>
            <input id="promote-alias" name="alias" list="alias-names" required pattern="[a-z][a-z0-9\-]*" />
            <datalist id="alias-names">
              {aliasNames.map((a) => (
                <option key={a} value={a} />
              ))}
            </datalist>
          </div>
          <div>
            <label for="promote-version">Version</label>
            <select id="promote-version" name="version">
              {newestFirst.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version} ({v.status})
                </option>
              ))}
            </select>
          </div>
          <button type="submit">Promote…</button>
        </form>
      )}

      <h2>Alias timeline</h2>
      <AliasTimeline events={history} now={Date.now()} />

      <h2>Versions</h2>
      <DataTable columns={['Version', 'Status', 'Digest', 'Size', 'Registered', 'By']}>
        <tbody>
          {newestFirst.map((v) => (
            <tr key={v.version}>
              <th scope="row">
                <a href={href.version(model.name, v.version)}>v{v.version}</a>
              </th>
              <td>
                <span class={`status status-${v.status}`}>{v.status}</span>
              </td>
              <td>
                <code title={v.digest}>{shortDigest(v.digest)}</code>
              </td>
              <td class="nowrap">{bytes(v.size)}</td>
              <td class="nowrap">{time(v.createdAt)}</td>
              <td class="wrap">{v.createdBy}</td>
            </tr>
          ))}
        </tbody>
      </DataTable>

      <h2>Metrics across versions</h2>
      <MetricsChart versions={versions} />

      {shown && (
        <>
          <div class="ref-pick">
            <label for="ref">Show card, lineage and files of</label>
            <select id="ref" value={ref} onChange={(e) => setRef((e.currentTarget as HTMLSelectElement).value)}>
              {Object.keys(model.aliases).map((a) => (
                <option key={a} value={a}>
                  @{a} (v{model.aliases[a]})
                </option>
              ))}
              {newestFirst.map((v) => (
                <option key={v.version} value={`v${v.version}`}>
                  v{v.version}
                </option>
              ))}
            </select>
          </div>
          <h2>Model card (v{shown.version})</h2>
          <ModelCard card={shown.card} />
          <h2>Lineage (v{shown.version})</h2>
          <VersionLineage version={shown} />
          <h2>Files (v{shown.version})</h2>
          <Files name={model.name} reference={model.aliases[ref] !== undefined ? ref : `v${shown.version}`} version={shown} />
        </>
      )}

      {move && (
        <MoveDialog
          name={model.name}
          move={move}
          versions={versions}
          onClose={() => setMove(null)}
          onDone={() => {
            setMove(null);
            reload();
          }}
        />
      )}
    </>
  );
}

function Files({ name, reference, version }: { name: string; reference: string; version: Version }) {
  const origin = location.origin;
  const host = location.host;
  const first = version.files[0]?.path ?? 'config.json';
  const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  return (
    <>
      <DataTable columns={['Path', 'Size', 'Digest']}>
        <tbody>
          {version.files.map((f) => (
            <tr key={f.path}>
              <td class="wrap">
                <code>{f.path}</code>
              </td>
              <td class="nowrap">{bytes(f.size)}</td>
              <td>
                <code class="wrap digest">{f.digest}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </DataTable>
      <h3>
        Pull {name}@{reference}
      </h3>
      <div class="commands">
        <CopyField
          label="modelgate CLI"
          value={`MODELGATE_URL=${origin} npx modelgate pull ${name}@${reference} ./${name.split('/').pop()}`}
        />
        <CopyField
          label="curl"
          value={`curl -fL -H "Authorization: Bearer $MODELGATE_TOKEN" -o ${JSON.stringify(first.split('/').pop())} ${origin}/v1/models/${name}@${reference}/files/${enc(first)}`}
        />
        <CopyField
          label="huggingface_hub"
          value={`HF_ENDPOINT=${origin} HF_TOKEN=$MODELGATE_TOKEN python -c 'from huggingface_hub import snapshot_download; print(snapshot_download("${name}", revision="${reference}"))'`}
        />
        <CopyField
          label="skopeo"
          value={`skopeo copy --src-creds "ci:$MODELGATE_TOKEN" --src-tls-verify=false docker://${host}/${name}:${reference} oci:./${name.split('/').pop()}:${reference}`}
        />
      </div>
    </>
  );
}
