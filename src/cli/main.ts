// Entry point of the `modelgate` command: picks the sub-command and hands it the rest of argv.
import { readFileSync } from 'node:fs';
import { CliError } from './cli-error.js';

type CommandModule = { run(argv: string[]): Promise<number | undefined> };

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import('./commands/serve.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  resolve: () => import('./commands/resolve.js'),
  alias: () => import('./commands/alias.js'),
  rollback: () => import('./commands/rollback.js'),
  show: () => import('./commands/show.js'),
  approve: () => import('./commands/approve.js'),
  reject: () => import('./commands/reject.js'),
  retire: () => import('./commands/retire.js'),
  edit: () => import('./commands/edit.js'),
  delete: () => import('./commands/delete.js'),
  history: () => import('./commands/history.js'),
  deployments: () => import('./commands/deployments.js'),
  token: () => import('./commands/token.js'),
  webhook: () => import('./commands/webhook.js'),
  bom: () => import('./commands/bom.js'),
  inventory: () => import('./commands/inventory.js'),
  audit: () => import('./commands/audit.js'),
  gc: () => import('./commands/gc.js'),
  impact: () => import('./commands/impact.js'),
  lineage: () => import('./commands/lineage.js'),
  blobs: () => import('./commands/blobs.js'),
  'control-plane': () => import('./commands/control-plane.js'),
  watch: () => import('./commands/watch.js'),
  fleet: () => import('./commands/fleet.js'),
  report: () => import('./commands/report.js'),
};

const usage = `usage: modelgate <command> [options]

commands:
  serve                         run the gateway (--host, --port, --data-dir, --config)
  push <dir> <name> [--alias a] upload a model directory and register a version
       [--metadata FILE]        (with metadata, lineage, metrics, card from JSON or YAML)
       [--component c=name@ref] (repeat: a stack pinning those versions as components)
  pull <name@ref> [dir]         download a version, verified, resumable
  resolve <name@ref>            show which version and files a reference points at
  show <name@ref>               show a version's record, model card, aliases and approvals
  alias set <name@alias> <ver>  point an alias at a version
  rollback <name@alias>         move an alias back to its previous version (--wait: until the fleet follows)
  approve <name> <version>      approve a version (--comment c)
  reject <name> <version>       reject a version for good (--comment c)
  retire <name> <version>       take a version out of service for good (--reason r)
  edit <name> <version>         replace a version's record (--metadata FILE) or --deprecate it
  delete <name> <version>       delete a version that nothing holds (--reason r; admin)
  history <name@alias>          an alias's timeline, or where it pointed --at a time
  deployments <name>            which version each alias served, from when until when
  token create|list|revoke      manage access tokens (admin)
  bom <name@ref>                a version's CycloneDX 1.6 ML-BOM (--out FILE)
  inventory [--format csv|json] every model in scope: owner, aliases, approvals, card, lineage
  webhook add|list|remove|deliveries|redeliver|test|rotate
                                signed webhooks for registry events (admin)
  audit verify|list|export      verify, read and export the audit log
  gc [--dry-run]                apply retention and remove unreferenced blobs (admin)
  impact <target>               every version, stack and alias that includes a blob, version or dataset
  lineage <name@ref>            a version's ancestors and descendants (parents, components, datasets)
  blobs verify [--repair]       re-hash every stored blob; move damaged ones aside (admin)
  control-plane status          every node's sequence and head against Redis (admin)
  control-plane restore --from-replica   rebuild a lost Redis from this node's replica (admin)
  watch [<name> …]              follow alias and version changes live (reconnects, resumes)
  fleet [<name>]                which instances run which version (observed); --unregistered
  fleet history <name>          which instances ran each version, from when to when
  report <dir> --deployment d/i report the weights a runtime loaded (hashes them)

Run "modelgate <command> --help" for a command's options.

client options: --server URL (or MODELGATE_URL), --token T (or MODELGATE_TOKEN), --json
modelgate --version prints the version.
`;

/** The version of the installed package: the nearest package.json above this module (compiled in dist/src/cli/, bundled in dist/cli/). */
function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      return (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir.pathname === '/') throw err;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`modelgate ${packageVersion()}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`modelgate: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  const mod = await load();
  const code = await mod.run(rest);
  return typeof code === 'number' ? code : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (CliError.is(err)) {
      process.stderr.write(`modelgate: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`modelgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
