// modelgate lineage <name@ref>: a version's ancestors (lineage parents, components, datasets) and
// descendants (fine-tunes, stacks that pin it) as trees on the terminal; --json gives the graph.
import type { LineageEdge, LineageGraph, LineageNode } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseModelReference } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate lineage <name@ref>

Shows what the version was made from (its lineage parent, its components, the datasets they were
trained on, transitively) and what was made from it (versions fine-tuned from it, stacks that pin
it, transitively). --json prints the graph: {root, nodes, edges}.

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], {});
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, ref } = parseModelReference(positionals[0]!);
  const client = clientFromOptions(values);
  const graph = await withUserErrors(() => client.lineage(name, ref));
  process.stdout.write(values.json ? `${JSON.stringify(graph)}\n` : describe(graph));
  return 0;
}

function label(node: LineageNode | undefined, id: string): string {
  if (!node) return id;
  if (node.kind === 'dataset') {
    const d = node.dataset ?? {};
    return `dataset ${[d.name, d.uri, d.digest].filter(Boolean).join(' ')}`;
  }
  return `${node.id} (${node.status})`;
}

function relationText(e: LineageEdge): string {
  return e.relation === 'component' ? `component ${e.component}` : e.relation;
}

/** Two trees from the root: ingredients upward, products downward. A node seen before on the same path is marked, not repeated. */
export function describe(g: LineageGraph): string {
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const lines: string[] = [label(nodes.get(g.root), g.root)];
  const walk = (id: string, direction: 'up' | 'down', prefix: string, path: Set<string>) => {
    const next = g.edges.filter((e) => (direction === 'up' ? e.to === id : e.from === id));
    next.forEach((e, i) => {
      const other = direction === 'up' ? e.from : e.to;
      const last = i === next.length - 1;
      const arrow = direction === 'up' ? '←' : '→';
      const cycle = path.has(other) ? ' (already shown)' : '';
      lines.push(`${prefix}${last ? '└─' : '├─'} ${arrow} ${relationText(e)}: ${label(nodes.get(other), other)}${cycle}`);
      if (!cycle) walk(other, direction, `${prefix}${last ? '   ' : '│  '}`, new Set([...path, other]));
    });
  };
  const ups = g.edges.some((e) => e.to === g.root);
  const downs = g.edges.some((e) => e.from === g.root);
  lines.push(ups ? 'made from:' : 'made from: (nothing recorded)');
  walk(g.root, 'up', '  ', new Set([g.root]));
  lines.push(downs ? 'used by:' : 'used by: (nothing)');
  walk(g.root, 'down', '  ', new Set([g.root]));
  return `${lines.join('\n')}\n`;
}
