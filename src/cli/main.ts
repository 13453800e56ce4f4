// Entry point of the `modelgate` command: picks the sub-command and hands it the rest of argv.
import { CliError } from './cli-error.js';

type CommandModule = { run(argv: string[]): Promise<number | void> };

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import('./commands/serve.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  resolve: () => import('./commands/resolve.js'),
  alias: () => import('./commands/alias.js'),
  rollback: () => import('./commands/rollback.js'),
};

const usage = `usage: modelgate <command> [options]

commands:
  serve                         run the gateway (--host, --port, --data-dir, --config)
  push <dir> <name> [--alias a] upload a model directory and register a version
  pull <name@ref> [dir]         download a version, verified, resumable
  resolve <name@ref>            show which version and files a reference points at
  alias set <name@alias> <ver>  point an alias at a version
  rollback <name@alias>         move an alias back to its previous version

client options: --server URL (or MODELGATE_URL), --token T (or MODELGATE_TOKEN), --json
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
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
    if (err instanceof CliError) {
      process.stderr.write(`modelgate: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`modelgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
