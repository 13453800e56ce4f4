// Lineage as a drawn graph: datasets, code and the parent version feed this version. dagre lays it
// out; the nodes are SVG text (never markup from the API).
import dagre from '@dagrejs/dagre';
import { href } from '../router';
import type { Version } from '../types';

interface GraphNode {
  id: string;
  kind: string;
  label: string;
  link?: string;
}

const NODE_W = 220;
const NODE_H = 44;
const clip = (s: string, n = 30) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function LineageGraph({ version }: { version: Version }) {
  const nodes: GraphNode[] = [];
  const edges: [string, string][] = [];
  const self = `self`;
  nodes.push({ id: self, kind: 'this version', label: `${version.name}@v${version.version}` });
  const lineage = version.lineage ?? {};
  (lineage.datasets ?? []).forEach((d, i) => {
    const id = `dataset-${i}`;
    nodes.push({ id, kind: 'dataset', label: d.name ?? d.uri ?? d.digest ?? 'dataset' });
    edges.push([id, self]);
  });
  if (lineage.code) {
    nodes.push({ id: 'code', kind: 'code', label: `${lineage.code.repo}@${lineage.code.commit.slice(0, 10)}` });
    edges.push(['code', self]);
  }
  if (lineage.parent) {
    const m = /^(.+)@v([0-9]+)$/.exec(lineage.parent);
    nodes.push({ id: 'parent', kind: 'parent', label: lineage.parent, link: m ? href.version(m[1]!, Number(m[2])) : undefined });
    edges.push(['parent', self]);
  }
  if (lineage.trainingRunId) {
    nodes.push({ id: 'run', kind: 'training run', label: lineage.trainingRunId });
    edges.push(['run', self]);
  }
  if (nodes.length === 1) return <p class="muted">This version records no lineage.</p>;

  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 60, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const [a, b] of edges) g.setEdge(a, b);
  dagre.layout(g);
  const graph = g.graph();
  const width = Math.ceil(graph.width ?? 400);
  const height = Math.ceil(graph.height ?? 100);

  return (
    <figure class="lineage">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-label={`Lineage of ${version.name}@v${version.version}`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {g.edges().map((e) => {
          const points = g.edge(e).points ?? [];
          return (
            <polyline
              key={`${e.v}-${e.w}`}
              class="edge"
              points={points.map((p: { x: number; y: number }) => `${p.x},${p.y}`).join(' ')}
              marker-end="url(#arrow)"
            />
          );
        })}
        {nodes.map((n) => {
          const pos = g.node(n.id);
          const body = (
            <g transform={`translate(${pos.x - NODE_W / 2},${pos.y - NODE_H / 2})`} class={`node ${n.id === self ? 'self' : ''}`}>
              <title>{`${n.kind}: ${n.label}`}</title>
              <rect width={NODE_W} height={NODE_H} rx="6" />
              <text x="10" y="17" class="kind">
                {n.kind}
              </text>
              <text x="10" y="34" class="label">
                {clip(n.label)}
              </text>
            </g>
          );
          return n.link ? (
            <a key={n.id} href={n.link}>
              {body}
            </a>
          ) : (
            <g key={n.id}>{body}</g>
          );
        })}
      </svg>
    </figure>
  );
}
