// modelgate watch <name> [<name>…]: follow alias and version changes as they happen. The stream
// reconnects by itself and resumes from the last sequence it printed, so nothing is skipped.
import { backoffDelay } from '../../lib/retry.js';
import WebSocket from 'ws';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';

const usage = `usage: modelgate watch [<name> …] [--since SEQ] [--once]

Prints the current aliases of the named models (all models the token may read when none are
named), then every change as it is committed. Reconnects after a dropped connection and resumes
after the last sequence printed. --once prints the current state and exits.

${clientOptionsHelp}`;

interface Message {
  type: 'snapshot' | 'change' | 'ready' | 'fleet' | 'fleet.unregistered';
  /** Absent on fleet summaries, which are observations, not registry changes. */
  seq: number;
  [key: string]: unknown;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, Infinity], { since: { type: 'string' }, once: { type: 'boolean', default: false } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (values.since !== undefined && !/^[0-9]+$/.test(values.since)) throw new CliError('--since takes a sequence number', 2);
  const client = clientFromOptions(values);
  const token = values.token ?? process.env.MODELGATE_TOKEN;
  const base = client.baseUrl.replace(/^http/, 'ws');
  let since: number | null = values.since === undefined ? null : Number(values.since);
  // Reconnects without end, each pause from the one backoff rule (jittered, doubling up to 2-4 s).
  let lost = 0;

  for (;;) {
    const query = new URLSearchParams();
    if (positionals.length > 0) query.set('models', positionals.join(','));
    if (since !== null) query.set('since', String(since));
    const outcome = await stream(`${base}/v1/watch?${query}`, token, (msg) => {
      if (typeof msg.seq === 'number' && (msg.seq > (since ?? 0) || msg.type === 'snapshot')) since = msg.seq;
      process.stdout.write(values.json ? `${JSON.stringify(msg)}\n` : describe(msg));
      return values.once && (msg.type === 'snapshot' || msg.type === 'ready');
    });
    if (outcome.kind === 'done') return 0;
    if (outcome.kind === 'refused') throw new CliError(outcome.message, 1);
    process.stderr.write(`modelgate: watch connection lost (${outcome.message}); reconnecting from seq ${since ?? 0}\n`);
    lost++;
    await new Promise((r) => setTimeout(r, backoffDelay(Math.min(lost, 5), 250)));
  }
}

type Outcome = { kind: 'done' } | { kind: 'refused'; message: string } | { kind: 'lost'; message: string };

/** One connection: resolves when `onMessage` says it is done, the server refuses, or the link drops. */
function stream(url: string, token: string | undefined, onMessage: (m: Message) => boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      resolve(o);
    };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        let message = `HTTP ${res.statusCode}`;
        try {
          message = (JSON.parse(body) as { error: { message: string } }).error.message;
        } catch {
          // keep the status line
        }
        finish(res.statusCode && res.statusCode < 500 ? { kind: 'refused', message } : { kind: 'lost', message });
      });
    });
    ws.on('message', (data) => {
      if (onMessage(JSON.parse(data.toString()) as Message)) finish({ kind: 'done' });
    });
    ws.on('close', (code) => finish({ kind: 'lost', message: `closed with code ${code}` }));
    ws.on('error', (err) => finish({ kind: 'lost', message: err.message }));
  });
}

function describe(msg: Message): string {
  if (msg.type === 'ready') return `-- caught up at seq ${msg.seq}\n`;
  if (msg.type === 'snapshot') {
    const lines = [`-- state at seq ${msg.seq}`];
    for (const [model, aliases] of Object.entries(
      msg.models as Record<string, Record<string, { version: number; digest: string | null }>>,
    )) {
      const entries = Object.entries(aliases);
      if (entries.length === 0) lines.push(`${model}  (no aliases)`);
      for (const [alias, p] of entries) lines.push(`${model}@${alias}  v${p.version}  ${p.digest ?? ''}`);
    }
    return `${lines.join('\n')}\n`;
  }
  if (msg.type === 'fleet') {
    // A rate-limited summary of what runs (fleet telemetry), not a registry change: no sequence.
    const versions = (msg.versions as { version: number; instances: number }[]).map((v) => `v${v.version}: ${v.instances}`).join(', ');
    const behind = (msg.stragglers as { alias: string; instances: { deployment: string; instance: string; version: number }[] }[])
      .map((a) => `; stragglers on @${a.alias}: ${a.instances.map((i) => `${i.deployment}/${i.instance} (v${i.version})`).join(', ')}`)
      .join('');
    return `-- fleet ${msg.model}: ${versions}${behind}\n`;
  }
  if (msg.type === 'fleet.unregistered') {
    const found = (msg.artifacts as { digest: string; deployment: string; instance: string; paths: string[] }[]).map(
      (a) => `-- unregistered ${a.digest} at ${a.deployment}/${a.instance} (${a.paths.join(', ')})\n`,
    );
    return `${found.join('')}${msg.more ? `-- and ${msg.more} more unregistered\n` : ''}`;
  }
  const where = msg.alias ? `${msg.model}@${msg.alias}` : msg.version ? `${msg.model}@v${msg.version}` : String(msg.model);
  const move =
    typeof msg.action === 'string' && msg.action.startsWith('alias.')
      ? `  ${msg.previous === null ? '-' : `v${msg.previous}`} -> ${msg.version === null ? '-' : `v${msg.version}`}`
      : '';
  return `${msg.seq}  ${msg.at}  ${msg.action}  ${where}${move}  by ${msg.actor}\n`;
}
