// modelgate control-plane status | restore --from-replica: the shared control plane (Redis) seen
// through one node (admin, scope *). `status` lists every node's heartbeat against the authority
// and exits 1 unless all agree; `restore --from-replica` rebuilds a lost or diverged Redis from the
// replica of the node it is sent to (--server), after that node verified its audit chain.
import type { ControlPlaneRestore, ControlPlaneStatus } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, splitSubcommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate control-plane status
       modelgate control-plane restore --from-replica

status                    every registered node: applied sequence, audit head, last heartbeat,
                          lag behind the authority, and whether its history agrees with it.
                          Exit 1 unless every live node agrees.
restore --from-replica    rebuild Redis (tables, sequence, log) from the replica of the node
                          --server names, after it verifies its audit chain; audited as
                          control-plane.restore. Refused while Redis holds everything that
                          replica has. Send it to the node whose history is longest.

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const split = splitSubcommand(argv, usage);
  if (!split) return 0;
  const { sub, rest } = split;
  if (sub === 'status') {
    const parsed = parseCommand(rest, usage, [0, 0], {});
    if (!parsed) return 0;
    const client = clientFromOptions(parsed.values);
    const status = await withUserErrors(() => client.controlPlaneStatus());
    process.stdout.write(parsed.values.json ? `${JSON.stringify(status)}\n` : describeStatus(status));
    return status.agree ? 0 : 1;
  }
  if (sub === 'restore') {
    const parsed = parseCommand(rest, usage, [0, 0], { 'from-replica': { type: 'boolean', default: false } });
    if (!parsed) return 0;
    if (!parsed.values['from-replica']) {
      process.stderr.write(`modelgate control-plane restore: say where from: --from-replica\n\n${usage}`);
      return 2;
    }
    const client = clientFromOptions(parsed.values);
    const restored = await withUserErrors(() => client.restoreControlPlane());
    process.stdout.write(parsed.values.json ? `${JSON.stringify(restored)}\n` : describeRestore(restored));
    return 0;
  }
  process.stderr.write(`modelgate control-plane: unknown subcommand "${sub ?? ''}"\n\n${usage}`);
  return 2;
}

const short = (hash: string) => hash.replace(/^sha256:/, '').slice(0, 12);

export function describeStatus(s: ControlPlaneStatus): string {
  const lines = [
    s.authority
      ? `authority (${s.backend}): sequence ${s.authority.seq}, head ${short(s.authority.headHash)}${s.restoredAt ? `, restored at ${s.restoredAt}` : ''}`
      : `authority (${s.backend}): unreachable${s.unreachable ? ` (${s.unreachable})` : ''}`,
  ];
  for (const n of s.nodes) {
    const state = !n.live ? 'NOT LIVE' : n.diverged ? 'DIVERGED' : n.agrees ? 'ok' : 'DISAGREES';
    lines.push(
      `${state.padEnd(9)} ${n.address || n.id}  seq ${n.appliedSeq}  head ${short(n.headHash)}  lag ${n.lag ?? '?'}  heartbeat ${Math.round(n.ageMs / 100) / 10} s ago`,
    );
    if (n.diverged) lines.push(`          ${n.diverged}`);
  }
  lines.push(s.agree ? 'every live node agrees with the authority' : 'the nodes do NOT all agree with the authority');
  return `${lines.join('\n')}\n`;
}

export function describeRestore(r: ControlPlaneRestore): string {
  const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
  const before = r.previous ? `Redis was at sequence ${r.previous.seq}` : 'Redis was empty';
  return `restored the control plane to sequence ${r.restoredSeq} (head ${short(r.headHash)}) from node ${r.node}: ${rows} rows; ${before}; audited as entry ${r.auditSeq}\n`;
}
