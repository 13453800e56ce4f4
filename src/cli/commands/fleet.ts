// modelgate fleet [model] | fleet history <model> | fleet --unregistered: what the gateway saw
// deployments run (observed), as opposed to `deployments`, which is the alias history.
import type { FleetView } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { checkModelName, parseVersionNumber } from '../reference.js';
import { renderTable } from '../table.js';
import { withUserErrors } from '../user-errors.js';
import { describeConvergence } from '../fleet/convergence.js';

const usage = `usage: modelgate fleet [<name>] [--unregistered]
       modelgate fleet history <name> [--version N] [--jsonl]

Which deployment instances run which version, as the gateway observed them (resolves, downloads
and runtime reports; instances identify themselves with X-Modelgate-Deployment).

  fleet                 every observed model in your scope, instances per version
  fleet <name>          the model's instances grouped by version, and per alias who is behind
                        since it last moved (pending, then stragglers after the window)
  fleet --unregistered  weights runtimes reported that no registered version lists (auditor/admin)
  fleet history <name>  which instances ran each version, from when to when (observed history;
                        "modelgate deployments" is the alias-derived view)
    --version N         only version N
    --jsonl             export as JSON Lines

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 2], {
    unregistered: { type: 'boolean', default: false },
    version: { type: 'string' },
    jsonl: { type: 'boolean', default: false },
  });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const client = clientFromOptions(values);
  if (positionals[0] === 'history') {
    const name = checkModelName(positionals[1] ?? '');
    const version = values.version === undefined ? undefined : parseVersionNumber(values.version, '--version');
    if (values.jsonl) {
      process.stdout.write(await withUserErrors(() => client.fleetHistoryJsonl(name, version)));
      return 0;
    }
    const spans = await withUserErrors(() => client.fleetHistory(name, version));
    if (values.json) process.stdout.write(`${JSON.stringify({ model: name, spans })}\n`);
    else if (spans.length === 0) process.stdout.write(`no instance has been observed running ${name}${version ? ` v${version}` : ''}\n`);
    else
      process.stdout.write(
        renderTable(
          ['VERSION', 'DEPLOYMENT', 'INSTANCE', 'FROM', 'UNTIL', 'VIA', 'BYTES'],
          spans.map((s) => [`v${s.version}`, s.deployment, s.instance, s.from, s.until, s.via, String(s.bytes)]),
        ),
      );
    return 0;
  }
  if (values.unregistered) {
    const artifacts = await withUserErrors(() => client.unregisteredArtifacts());
    if (values.json) process.stdout.write(`${JSON.stringify({ artifacts })}\n`);
    else if (artifacts.length === 0) process.stdout.write('no unregistered artifacts reported\n');
    else
      process.stdout.write(
        renderTable(
          ['DIGEST', 'DEPLOYMENT', 'INSTANCE', 'PATHS', 'SIZE', 'FIRST SEEN', 'LAST SEEN'],
          artifacts.map((a) => [a.digest, a.deployment, a.instance, a.paths.join(','), String(a.size), a.firstSeen, a.lastSeen]),
        ),
      );
    return 0;
  }
  if (positionals.length > 1) {
    process.stderr.write(usage);
    return 2;
  }
  if (positionals.length === 0) {
    const models = await withUserErrors(() => client.fleetOverview());
    if (values.json) process.stdout.write(`${JSON.stringify({ models })}\n`);
    else if (models.length === 0) process.stdout.write('no instance has been observed yet\n');
    else
      process.stdout.write(
        renderTable(
          ['MODEL', 'INSTANCES', 'VERSIONS'],
          models.map((m) => [m.model, String(m.instances), m.versions.map((v) => `v${v.version}: ${v.instances}`).join(', ')]),
        ),
      );
    return 0;
  }
  const name = checkModelName(positionals[0]!);
  const view = await withUserErrors(() => client.fleet(name));
  process.stdout.write(values.json ? `${JSON.stringify(view)}\n` : describe(view));
  return 0;
}

export function describe(view: FleetView): string {
  if (view.instances.length === 0) return `no instance of ${view.model} has been observed\n`;
  const lines = [
    `${view.model}: ${view.versions.map((g) => `v${g.version}: ${g.instances} instance${g.instances === 1 ? '' : 's'}`).join(', ')}`,
  ];
  for (const a of view.aliases) lines.push(describeConvergence(a));
  lines.push('');
  const table = renderTable(
    ['DEPLOYMENT', 'INSTANCE', 'VERSION', 'LAST RESOLVED', 'LAST DOWNLOADED', 'LAST SEEN', 'NODE'],
    view.instances.map((i) => [
      i.deployment,
      i.instance,
      `v${i.version}`,
      i.resolved ? `v${i.resolved.version} via @${i.resolved.ref} ${i.resolved.at}` : '-',
      i.downloaded ? `v${i.downloaded.version} ${i.downloaded.at}` : '-',
      i.lastSeen,
      i.node,
    ]),
  );
  return `${lines.join('\n')}\n${table}`;
}
