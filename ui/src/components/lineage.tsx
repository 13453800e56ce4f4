// Lineage as a drawn graph: the graph GET /v1/models/{name}/lineage returns (parents, components
// and datasets below this version, transitively; fine-tunes and stacks that use it above), plus its
// code and training run from the record. dagre lays it out; the nodes are SVG text (never markup
// from the API).
import dagre from '@dagrejs/dagre';
import { api, modelPath, query } from '../api';
import { useLoad } from '../load';
import { href } from '../router';
import { Load } from './states';
import type { LineageGraphData, Version } from '../types';

interface GraphNode {
  id: string;
  kind: string;
  label: string;
  link?: string;
}

const NODE_W = 220;
const NODE_H = 44;
const clip = (s: string, n = 30) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function LineageGraph({ version, graph }: { version: Version; graph: LineageGraphData }) {
  const nodes: GraphNode[] = [];
  const edges: [string, string][] = [];
  const self = graph.root;
  nodes.push({ id: self, kind: 'this version', label: `${version.name}@v${version.version}` });
  for (const n of graph.nodes) {
    if (n.id === self) continue;
    if (n.kind === 'dataset') {
      const d = n.dataset ?? {};
      nodes.push({ id: n.id, kind: 'dataset', label: d.name ?? d.uri ?? d.digest ?? 'dataset' });
    } else {
      nodes.push({ id: n.id, kind: `version (${n.status})`, label: n.id, link: href.version(n.name!, n.version!) });
    }
  }
  // An edge's kind shows on the node it comes from, as seen from this version.
  for (const e of graph.edges) {
    edges.push([e.from, e.to]);
    const from = nodes.find((n) => n.id === e.from);
    if (from && e.relation !== 'dataset' && e.to === self) from.kind = e.relation === 'component' ? `component ${e.component}` : 'parent';
    const to = nodes.find((n) => n.id === e.to);
    if (to && e.from === self) to.kind = e.relation === 'component' ? `stack (as ${e.component})` : 'derived';
  }
  const lineage = version.lineage ?? {};
  if (lineage.code) {
    nodes.push({ id: 'code', kind: 'code', label: `${lineage.code.repo}@${lineage.code.commit.slice(0, 10)}` });
    edges.push(['code', self]);
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
  const laid = g.graph();
  const width = Math.ceil(laid.width ?? 400);
  const height = Math.ceil(laid.height ?? 100);

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

/** The lineage of a version, fetched from the API when the version shown changes. */
export function VersionLineage({ version }: { version: Version }) {
  const state = useLoad(
    () => api<LineageGraphData>(`/v1/models/${modelPath(version.name)}/lineage${query({ ref: `v${version.version}` })}`),
    [version.name, version.version, version.seq],
  );
  return (
    <Load state={state} what={`the lineage of ${version.name}@v${version.version}`}>
      {(graph) => <LineageGraph version={version} graph={graph} />}
    </Load>
  );
}
