// Webhook endpoints (admin only, /v1/webhooks): list, add (the signing secret is shown once),
// remove, rotate the secret (the new one shown once), send a test ping, and each endpoint's
// delivery log with redelivery. Validation (URL, SSRF guard, events) is the server's.
import { useEffect, useState } from 'preact/hooks';
import { useAction } from '../action';
import { api, send } from '../api';
import { CopyField } from '../components/copy';
import { DataTable } from '../components/table';
import { ErrorBox, Load } from '../components/states';
import { time } from '../format';
import { useLive } from '../live';
import { useLoad } from '../load';
import { can } from '../roles';
import type { WebhookDelivery, WebhookView, WhoAmI } from '../types';

const path = (id: string, rest = '') => `/v1/webhooks/${encodeURIComponent(id)}${rest}`;

/** A signing secret the server returns once: shown here once, with a copy button, until dismissed. */
function SecretOnce({ what, secret, onDismiss }: { what: string; secret: string; onDismiss: () => void }) {
  return (
    <div class="notice" role="status" data-testid="secret-once">
      <strong>{what}: copy the signing secret now, it is not shown again.</strong>
      <CopyField label="Signing secret" value={secret} />
      <button type="button" onClick={onDismiss}>
        I have saved it
      </button>
    </div>
  );
}

export function WebhooksPage({ me }: { me: WhoAmI }) {
  const live = useLive();
  const state = useLoad(() => api<{ webhooks: WebhookView[] }>('/v1/webhooks'), [live]);
  const [secret, setSecret] = useState<{ what: string; secret: string } | null>(null);
  const add = useAction(state.reload);
  if (!can.manageWebhooks(me)) return <p class="error">Webhooks need an admin token scoped to "*".</p>;

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const events = String(data.get('events') ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const body = {
      url: String(data.get('url') ?? '').trim(),
      events,
      scope: String(data.get('scope') ?? '').trim() || '*',
      description: String(data.get('description') ?? '').trim(),
    };
    const created = await add.run(() => send<WebhookView & { secret: string }>('POST', '/v1/webhooks', body));
    if (created) {
      form.reset();
      setSecret({ what: `Webhook ${created.id} added`, secret: created.secret });
    }
  };

  return (
    <section>
      <h1>Webhooks</h1>
      {secret && <SecretOnce what={secret.what} secret={secret.secret} onDismiss={() => setSecret(null)} />}
      <form class="filters" aria-label="Add a webhook" onSubmit={submit}>
        <div>
          <label for="w-url">Endpoint URL</label>
          <input id="w-url" name="url" required placeholder="https://hooks.example.com/modelgate" />
        </div>
        <div>
          <label for="w-events">Events</label>
          <input id="w-events" name="events" required placeholder="alias.*, version.register" />
        </div>
        <div>
          <label for="w-scope">Model scope</label>
          <input id="w-scope" name="scope" placeholder="*" />
        </div>
        <div>
          <label for="w-description">Description</label>
          <input id="w-description" name="description" />
        </div>
        <button type="submit" class="primary" disabled={add.busy}>
          Add webhook
        </button>
      </form>
      {add.error && <ErrorBox error={add.error} title="Webhook refused" />}
      <Load state={state} what="webhooks">
        {(data) =>
          data.webhooks.length === 0 ? (
            <p class="empty">No webhook is registered.</p>
          ) : (
            <ul class="queue">
              {data.webhooks.map((w) => (
                <Endpoint key={w.id} w={w} live={live} onChange={state.reload} onSecret={setSecret} />
              ))}
            </ul>
          )
        }
      </Load>
    </section>
  );
}

interface PingResult {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  error: string | null;
}

function Endpoint({
  w,
  live,
  onChange,
  onSecret,
}: {
  w: WebhookView;
  live: number;
  onChange: () => void;
  onSecret: (s: { what: string; secret: string }) => void;
}) {
  const deliveries = useLoad(
    () => api<{ deliveries: WebhookDelivery[] }>(path(w.id, '/deliveries?limit=100')).then((r) => r.deliveries),
    [w.id, live],
  );
  const action = useAction(() => {
    onChange();
    deliveries.reload();
  });
  // Attempts are not registry changes, so no live event tells of them, and a change's delivery row
  // appears only once the worker takes it from the outbox: look again, often while any is pending.
  const pending = deliveries.data?.some((d) => d.status === 'pending') ?? false;
  useEffect(() => {
    if (deliveries.loading) return;
    const timer = setTimeout(deliveries.reload, pending ? 2000 : 5000);
    return () => clearTimeout(timer);
  }, [pending, deliveries.loading, deliveries.data]);
  const [ping, setPing] = useState<PingResult | null>(null);
  const test = async () => {
    const result = await action.run(() => send<PingResult>('POST', path(w.id, '/test')));
    if (result) setPing(result);
  };
  const rotate = async () => {
    const rotated = await action.run(() => send<WebhookView & { secret: string }>('POST', path(w.id, '/rotate')));
    if (rotated) onSecret({ what: `Secret of ${w.id} rotated`, secret: rotated.secret });
  };
  const remove = async () => {
    if (!confirm(`Remove the webhook to ${w.url}? Its pending deliveries stop.`)) return;
    await action.run(() => send('DELETE', path(w.id)));
  };
  return (
    <li data-webhook={w.id}>
      <h2 class="wrap">{w.url}</h2>
      <p class="muted">
        <code>{w.id}</code> · events {w.events.join(', ')} · scope {w.scope} · added {time(w.createdAt)} by {w.createdBy}
        {w.description && <> · {w.description}</>}
      </p>
      <p class="muted">
        {w.activeSecrets} signing secret(s){w.rotationEndsAt && `; the old one stops signing at ${time(w.rotationEndsAt)}`}
      </p>
      <div class="actions">
        <button type="button" onClick={test} disabled={action.busy}>
          Send a test ping
        </button>
        <button type="button" onClick={rotate} disabled={action.busy}>
          Rotate the secret
        </button>
        <button type="button" class="danger" onClick={remove} disabled={action.busy}>
          Remove
        </button>
      </div>
      {ping && (
        <p class={ping.ok ? 'verify ok' : 'verify broken'} role="status" data-testid="ping-result">
          Ping {ping.ok ? 'delivered' : 'failed'}: {ping.status === null ? 'no response' : `HTTP ${ping.status}`} in {ping.latencyMs} ms
          {ping.error && ` (${ping.error})`}
        </p>
      )}
      {action.error && <ErrorBox error={action.error} title="Webhook request refused" />}
      <h3>Deliveries</h3>
      <Load state={deliveries} what="deliveries">
        {(list) =>
          list.length === 0 ? (
            <p class="empty">No delivery yet.</p>
          ) : (
            <DataTable class="deliveries" columns={['Seq', 'Event', 'Status', 'Attempts', 'Code', 'Latency', 'Last attempt', '']}>
              <tbody>
                {list.map((d) => (
                  <tr key={d.id} data-delivery={d.seq}>
                    <td>{d.seq}</td>
                    <td>
                      <code>{d.type}</code>
                    </td>
                    <td>
                      <span class={`status status-${d.status}`}>{d.status}</span>
                      {d.lastError && <div class="muted wrap">{d.lastError}</div>}
                    </td>
                    <td>{d.attempts}</td>
                    <td>{d.lastResponseCode ?? '—'}</td>
                    <td>{d.lastLatencyMs === null ? '—' : `${d.lastLatencyMs} ms`}</td>
                    <td class="nowrap">{d.lastAttemptAt ? time(d.lastAttemptAt) : '—'}</td>
                    <td>
                      <button
                        type="button"
                        disabled={action.busy}
                        onClick={() => action.run(() => send('POST', path(w.id, `/deliveries/${encodeURIComponent(d.id)}/redeliver`)))}
                      >
                        Redeliver {d.seq}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </DataTable>
          )
        }
      </Load>
    </li>
  );
}
