import { api, query } from '../api';
import { Load } from '../components/states';
import { time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { href, navigate } from '../router';
import type { AliasPolicyStatus, InventoryModel, WhoAmI } from '../types';
import { DataTable } from '../components/table';

const PAGE = 50;
const FILTERS = ['q', 'tag', 'owner', 'alias'] as const;

/** Card completeness against the policy: required card fields present, over all protected aliases. */
function cardCompleteness(policy: AliasPolicyStatus[]): { present: number; required: number } {
  const required = new Set(policy.flatMap((p) => p.requirements.requiredCardFields));
  const missing = new Set(policy.flatMap((p) => p.unmet.filter((u) => u.code === 'CARD_FIELD').map((u) => u.message)));
  return { present: required.size - missing.size, required: required.size };
}

export function InventoryPage({ params, me }: { params: URLSearchParams; me: WhoAmI }) {
  const live = useLive();
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']));
  const cursor = params.get('cursor') ?? '';
  const state = useLoad(
    () => api<{ models: InventoryModel[]; nextCursor: string | null }>(`/v1/models${query({ ...filters, cursor, limit: PAGE })}`),
    [params.toString(), live],
  );
  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    navigate(href.inventory(query(Object.fromEntries(FILTERS.map((k) => [k, String(data.get(k) ?? '').trim()])))));
  };
  return (
    <section>
      <h1>Models</h1>
      <p class="muted">Every model your token can read ({me.scope === '*' ? 'all models' : `scope ${me.scope}`}).</p>
      {/* Uncontrolled inputs (defaultValue): a re-render while the list loads or a live change arrives must not wipe what the user is typing; the key renews them when the URL's filters change. */}
      <form key={params.toString()} class="filters" aria-label="Filter models" onSubmit={submit}>
        <div>
          <label for="f-q">Search</label>
          <input id="f-q" name="q" type="search" defaultValue={filters.q} placeholder="name, description, owner, tag" />
        </div>
        <div>
          <label for="f-tag">Tag</label>
          <input id="f-tag" name="tag" defaultValue={filters.tag} />
        </div>
        <div>
          <label for="f-owner">Owner</label>
          <input id="f-owner" name="owner" defaultValue={filters.owner} />
        </div>
        <div>
          <label for="f-alias">Has alias</label>
          <input id="f-alias" name="alias" defaultValue={filters.alias} placeholder="production" />
        </div>
        <button type="submit">Filter</button>
      </form>
      <Load state={state} what="models">
        {(page) => (
          <>
            {page.models.length === 0 ? (
              <p class="empty">No models match.</p>
            ) : (
              <DataTable class="inventory" columns={['Model', 'Owner', 'Tags', 'Aliases', 'Latest', 'Card', 'Last change']}>
                <tbody>
                  {page.models.map((m) => {
                    const card = m.latest ? cardCompleteness(m.latest.policy) : null;
                    return (
                      <tr key={m.name}>
                        <th scope="row">
                          <a href={href.model(m.name)} class="model-link">
                            {m.name}
                          </a>
                          {m.description && <div class="muted clamp">{m.description}</div>}
                        </th>
                        <td class="wrap">{m.owner}</td>
                        <td>
                          {m.tags.map((t) => (
                            <span key={t} class="badge tag">
                              {t}
                            </span>
                          ))}
                        </td>
                        <td>
                          {Object.entries(m.aliases).map(([alias, v]) => (
                            <a key={alias} class="badge alias" href={href.version(m.name, v)} data-alias={alias}>
                              {alias} → v{v}
                            </a>
                          ))}
                        </td>
                        <td>
                          {m.latest ? (
                            <span class={`status status-${m.latest.status}`}>
                              v{m.latest.version} {m.latest.status}
                            </span>
                          ) : (
                            '—'
                          )}
                        </td>
                        <td>{card && card.required > 0 ? `${card.present}/${card.required}` : '—'}</td>
                        <td class="nowrap">{time(m.updatedAt)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </DataTable>
            )}
            <nav class="pager" aria-label="Pages">
              {cursor && <a href={href.inventory(query({ ...filters }))}>First page</a>}
              {page.nextCursor && (
                <a rel="next" href={href.inventory(query({ ...filters, cursor: page.nextCursor }))}>
                  Next page
                </a>
              )}
            </nav>
          </>
        )}
      </Load>
    </section>
  );
}
