// How one alias's fleet convergence reads on a terminal (fleet view and rollback --wait).
import type { AliasConvergence } from '../../client/index.js';

export function describeConvergence(a: AliasConvergence): string {
  const behind = a.pending.length + a.stragglers.length;
  const head = `@${a.alias} -> v${a.version}: ${a.current} instance${a.current === 1 ? '' : 's'} current, ${behind} behind`;
  const rows = [...a.pending.map((s) => ({ s, kind: 'pending' })), ...a.stragglers.map((s) => ({ s, kind: 'straggler' }))];
  return [
    head,
    ...rows.map(
      ({ s, kind }) => `  ${kind}: ${s.deployment}/${s.instance} on v${s.version} (resolved ${s.resolvedAt}, last seen ${s.lastSeen})`,
    ),
  ].join('\n');
}
