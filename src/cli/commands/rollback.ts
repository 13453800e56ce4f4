// modelgate rollback <name@alias>: move an alias back to the version it pointed at before (or to
// --to N) in one call; the server records it in the alias history.
import type { AliasConvergence, ModelgateClient, RollbackRequest } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { describeConvergence } from '../fleet/convergence.js';
import { printAliasChange } from '../alias-output.js';
import { USAGE_EXIT_CODE, clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseAliasReference, parseVersionNumber } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate rollback <name@alias> [--to N] [--reason text] [--wait [--timeout S]]

Moves <alias> back to the version it pointed at before its last change.

  --to N          roll back to version N instead
  --reason text   recorded in the alias history and the audit log
  --wait          then wait until every instance that resolves <alias> has re-resolved to the
                  new version (the fleet view), with a progress line on stderr; exit 1 naming
                  the instances still behind if the deadline passes
  --timeout S     how long --wait waits (default 300 seconds)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], {
    to: { type: 'string' },
    reason: { type: 'string' },
    wait: { type: 'boolean', default: false },
    timeout: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, alias } = parseAliasReference(positionals[0]!);
  const request: RollbackRequest = {};
  if (values.to !== undefined) request.toVersion = parseVersionNumber(values.to, '--to');
  if (values.reason !== undefined) request.reason = values.reason;

  const timeoutSeconds = values.timeout === undefined ? 300 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new CliError('--timeout must be a positive number of seconds', USAGE_EXIT_CODE);

  const client = clientFromOptions(values);
  const change = await withUserErrors(() => client.rollback(name, alias, request));
  printAliasChange(change, values.json);
  if (!values.wait) return 0;
  const outcome = await waitForFleet(client, name, alias, change.version, timeoutSeconds * 1000);
  if (values.json) process.stdout.write(`${JSON.stringify({ converged: outcome.converged, fleet: outcome.state })}\n`);
  if (outcome.converged) {
    process.stderr.write(`fleet converged: ${outcome.state?.current ?? 0} instance(s) on v${change.version}\n`);
    return 0;
  }
  process.stderr.write(`deadline passed; not converged:\n${outcome.state ? describeConvergence(outcome.state) : '(no fleet view)'}\n`);
  return 1;
}

const POLL_MS = 1000;

/** Polls the fleet view until every instance using the alias is on `version`, or the deadline passes. */
async function waitForFleet(client: ModelgateClient, name: string, alias: string, version: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const tty = process.stderr.isTTY === true;
  let last = '';
  let state: AliasConvergence | undefined;
  for (;;) {
    // Convergence covers every instance on any page: one instance is enough to list.
    const view = await withUserErrors(() => client.fleetPage(name, { limit: 1 }));
    state = view.aliases.find((a) => a.alias === alias);
    const behind = state ? state.pending.length + state.stragglers.length : 0;
    const line = `waiting for ${name}@${alias} -> v${version}: ${state?.current ?? 0} current, ${behind} behind`;
    if (tty) process.stderr.write(`\r${line}\u001b[K`);
    else if (line !== last) process.stderr.write(`${line}\n`);
    last = line;
    if (state && state.version === version && behind === 0) {
      if (tty) process.stderr.write('\n');
      return { converged: true, state };
    }
    if (Date.now() >= deadline) {
      if (tty) process.stderr.write('\n');
      return { converged: false, state };
    }
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}
