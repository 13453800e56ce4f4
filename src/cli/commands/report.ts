// modelgate report <dir> --deployment d/i: hashes the weights a model server actually loaded and
// reports their digests, so the gateway can link the instance to the registered version they
// belong to, or list them as unregistered. Meant for an init container or a sidecar.
import { CliError } from '../cli-error.js';
import { USAGE_EXIT_CODE, clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { walkModelDir } from '../push/walk-model-dir.js';
import { sha256File } from '../sha256-file.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate report <dir> --deployment <deployment>/<instance> [--model name]

Hashes every file under <dir> (the weights a server loaded) and reports their digests to the
gateway (POST /v1/fleet/reports). Digests of registered versions link this instance to them in the
fleet view; unknown digests are recorded as unregistered artifacts. The answer says nothing about
which digests matched.

  --deployment d/i   this instance (default: $MODELGATE_DEPLOYMENT)
  --model name       the model this deployment believes it runs (checked against the token's scope)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { deployment: { type: 'string' }, model: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const who = values.deployment ?? process.env.MODELGATE_DEPLOYMENT ?? '';
  const slash = who.indexOf('/');
  if (slash <= 0 || slash === who.length - 1) throw new CliError('--deployment must be <deployment>/<instance>', USAGE_EXIT_CODE);
  const { files } = await walkModelDir(positionals[0]!);
  if (files.length === 0) throw new CliError(`no files under ${positionals[0]}`, 1);
  const reported: { path: string; digest: string; size: number }[] = [];
  for (const f of files) {
    const { hex, size } = await sha256File(f.absolutePath);
    reported.push({ path: f.path, digest: `sha256:${hex}`, size });
  }
  const client = clientFromOptions(values);
  const answer = await withUserErrors(() =>
    client.fleetReport({
      deployment: who.slice(0, slash),
      instance: who.slice(slash + 1),
      ...(values.model !== undefined ? { model: values.model } : {}),
      files: reported,
    }),
  );
  if (values.json) process.stdout.write(`${JSON.stringify({ ...answer, files: reported })}\n`);
  else process.stdout.write(`reported ${reported.length} file(s) as ${who}\n`);
  return 0;
}
