// modelgate webhook add|list|remove|deliveries|redeliver|test|rotate: webhook endpoints (admin).
// A signing secret is printed once, at creation and rotation.
import type { CreateWebhookRequest, WebhookDelivery, WebhookWithSecret } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, parseCount, runSubcommand, USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { renderTable } from '../table.js';
import { parseTtl } from '../time.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate webhook add <url> [--events E,E…] [--scope GLOB] [--description D]
       modelgate webhook list
       modelgate webhook remove <id>
       modelgate webhook deliveries <id> [--limit N]
       modelgate webhook redeliver <id> <delivery-id>
       modelgate webhook test <id>
       modelgate webhook rotate <id> [--grace T]

Manages webhook endpoints (needs an admin token). Every change in the registry is an event named
by its audit action (version.register, version.update, version.approve, version.reject,
alias.set, alias.rollback, alias.delete, version.retire, version.delete, denied.*, gc.run, …).
Deliveries are signed as Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).

add         registers an endpoint and prints its signing secret, once
  --events  comma-separated event types or globs, e.g. alias.*,version.approve (default *)
  --scope   models whose changes are sent: *, risk/*, team/model (default *)
list        every endpoint with its events and scope
remove      removes an endpoint; its pending deliveries are marked failed
deliveries  the delivery log: status, attempts, last response code and latency
redeliver   sends a delivery again (same webhook-id), whatever its state
test        sends a webhook.ping now and shows how the receiver answered
rotate      a new secret signs from now on; the old one keeps signing for --grace
  --grace   how long both sign: 24h, 90m, 3600s, 0 for not at all (default: the server's, 24h)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  return runSubcommand(argv, { add, list, remove, deliveries, redeliver, test, rotate }, usage);
}

async function add(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], {
    events: { type: 'string' },
    scope: { type: 'string' },
    description: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const events = (values.events ?? '*')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (events.length === 0) throw new CliError('--events names no event type', USAGE_EXIT_CODE);
  const request: CreateWebhookRequest = { url: positionals[0]!, events };
  if (values.scope !== undefined) request.scope = values.scope;
  if (values.description !== undefined) request.description = values.description;
  const created = await withUserErrors(() => clientFromOptions(values).createWebhook(request));
  printWithSecret(created, values.json, `created webhook ${created.id}`);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0]);
  if (!parsed) return 0;
  const { values } = parsed;
  const webhooks = await withUserErrors(() => clientFromOptions(values).listWebhooks());
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ webhooks })}\n`);
    return 0;
  }
  if (webhooks.length === 0) {
    process.stdout.write('no webhooks\n');
    return 0;
  }
  process.stdout.write(
    renderTable(
      ['ID', 'URL', 'EVENTS', 'SCOPE', 'SECRETS', 'CREATED'],
      webhooks.map((w) => [
        w.id,
        w.url,
        w.events.join(','),
        w.scope,
        w.rotationEndsAt ? `${w.activeSecrets} (rotating until ${w.rotationEndsAt})` : String(w.activeSecrets),
        `${w.createdAt} by ${w.createdBy}`,
      ]),
    ),
  );
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1]);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const removed = await withUserErrors(() => clientFromOptions(values).removeWebhook(positionals[0]!));
  process.stdout.write(values.json ? `${JSON.stringify(removed)}\n` : `removed webhook ${removed.id} (${removed.url})\n`);
  return 0;
}

async function deliveries(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { limit: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const limit = parseCount(values.limit, 'limit', 50);
  const found = await withUserErrors(() => clientFromOptions(values).webhookDeliveries(positionals[0]!, limit));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ deliveries: found })}\n`);
    return 0;
  }
  if (found.length === 0) {
    process.stdout.write('no deliveries yet\n');
    return 0;
  }
  process.stdout.write(
    renderTable(
      ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST CODE', 'LATENCY', 'LAST ATTEMPT', 'ERROR'],
      found.map((d) => [
        d.id,
        d.type,
        deliveryStatus(d),
        String(d.attempts),
        d.lastResponseCode === null ? '-' : String(d.lastResponseCode),
        d.lastLatencyMs === null ? '-' : `${d.lastLatencyMs} ms`,
        d.lastAttemptAt ?? '-',
        d.lastError ?? '',
      ]),
    ),
  );
  return 0;
}

async function redeliver(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [2, 2]);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const queued = await withUserErrors(() => clientFromOptions(values).redeliverWebhook(positionals[0]!, positionals[1]!));
  process.stdout.write(values.json ? `${JSON.stringify(queued)}\n` : `delivery ${queued.id} (${queued.type}) queued to be sent again\n`);
  return 0;
}

async function test(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1]);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const result = await withUserErrors(() => clientFromOptions(values).testWebhook(positionals[0]!));
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (result.ok) process.stdout.write(`ping delivered: HTTP ${result.status} in ${result.latencyMs} ms\n`);
  else process.stdout.write(`ping failed: ${result.error ?? `HTTP ${result.status}`} (${result.latencyMs} ms)\n`);
  return result.ok ? 0 : 1;
}

async function rotate(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { grace: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const grace = values.grace === undefined ? undefined : values.grace.trim() === '0' ? 0 : parseTtl(values.grace, 'grace');
  const rotated = await withUserErrors(() => clientFromOptions(values).rotateWebhook(positionals[0]!, grace));
  printWithSecret(
    rotated,
    values.json,
    `rotated the secret of webhook ${rotated.id}; the previous one signs until ${rotated.rotationEndsAt ?? 'now (no grace)'}`,
  );
  return 0;
}

function printWithSecret(w: WebhookWithSecret, json: boolean, headline: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(w)}\n`);
    return;
  }
  process.stdout.write(
    [
      headline,
      `  url     ${w.url}`,
      `  events  ${w.events.join(',')}`,
      `  scope   ${w.scope}`,
      '',
      'signing secret (shown this once; receivers verify webhook-signature with it):',
      '',
      `    ${w.secret}`,
      '',
    ].join('\n'),
  );
}

function deliveryStatus(d: WebhookDelivery): string {
  if (d.status === 'pending') return d.attempts === 0 ? 'pending' : `retrying at ${new Date(d.nextAttemptAt).toISOString()}`;
  return d.status;
}
