// modelgate bom <name@ref>: a version's CycloneDX 1.6 ML-BOM (JSON), to stdout or --out FILE.
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { writeWhole } from '../output-file.js';
import { parseModelReference } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate bom <name@ref> [--out FILE]

Prints the CycloneDX 1.6 BOM of the version <ref> (an alias, v<N> or sha256:<hex>) points at:
the model as a machine-learning-model component with its model card, its files with SHA-256
hashes, the datasets of its lineage, a stack's components as dependencies, and its digests,
status, aliases and approvals as modelgate: properties.

  --out FILE   write the BOM to FILE (whole or not at all) instead of stdout

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { out: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, ref } = parseModelReference(positionals[0]!);
  const client = clientFromOptions(values);
  const bom = await withUserErrors(async () => {
    const resolved = await client.resolve(name, ref);
    return client.bom(name, resolved.version);
  });
  const text = `${JSON.stringify(JSON.parse(bom), null, 2)}\n`;
  if (values.out === undefined) process.stdout.write(text);
  else {
    await writeWhole(values.out, text);
    process.stderr.write(`wrote the BOM of ${name}@${ref} to ${values.out}\n`);
  }
  return 0;
}
