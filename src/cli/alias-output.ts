// How alias moves (set, rollback) are reported.
import type { AliasChange } from '../client/index.js';

export function describeAliasChange(change: AliasChange): string {
  if (change.previous === change.version) return `${change.name}@${change.alias} already at v${change.version} (seq ${change.seq})\n`;
  const from = change.previous === null ? 'was unset' : `was v${change.previous}`;
  return `${change.name}@${change.alias} -> v${change.version} (${from}; seq ${change.seq})\n`;
}

export function printAliasChange(change: AliasChange, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(change)}\n` : describeAliasChange(change));
}
