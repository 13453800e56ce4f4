// Incident queries answered from the reverse indexes kept at commit time (componentRefs,
// lineageRefs, datasetRefs, blobRefs), never by scanning every version:
// - impact: every version, stack and alias that includes a blob, a version or a dataset, transitively;
// - lineage: a version's ancestors (parents, components, datasets) and descendants, as a graph.
import { datasetKeys, parentOf } from '../domain/lineage.js';
import type { RegistryReader } from '../domain/state.js';
import { componentNames } from '../domain/stack.js';
import type { Version } from '../domain/types.js';
import type { ImpactedVersion, ImpactReport, LineageEdge, LineageGraph, LineageNode } from '../domain/graph.js';

export type { ImpactReport, LineageGraph };

type Seed = Omit<ImpactedVersion, 'aliases' | 'digest' | 'status' | 'isStack'>;

const key = (name: string, version: number) => `${name}@v${version}`;

/**
 * Everything that includes the seeds, transitively: stacks that pin them (and stacks above those)
 * and versions whose lineage descends from them. `visible` drops models outside the caller's scope
 * from the answer (they are still walked through, so a visible stack above a hidden one is found).
 */
export function impactOf(
  state: RegistryReader,
  target: string,
  kind: ImpactReport['kind'],
  seeds: Seed[],
  visible: (name: string) => boolean,
): ImpactReport {
  const found = new Map<string, ImpactedVersion>();
  const queue: Version[] = [];
  const add = (seed: Seed) => {
    const k = key(seed.name, seed.version);
    if (found.has(k)) return;
    const version = state.getVersion(seed.name, seed.version);
    if (!version) return;
    found.set(k, {
      ...seed,
      digest: version.digest,
      status: version.status,
      isStack: componentNames(version).length > 0,
      aliases: state
        .listAliases(seed.name)
        .filter((a) => a.version === seed.version)
        .map((a) => ({ alias: a.alias, since: a.updatedAt, seq: a.seq })),
    });
    queue.push(version);
  };
  for (const seed of seeds) add(seed);
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const s of state.stacksContaining(v.name, v.version)) {
      add({ name: s.name, version: s.version, relation: 'component', via: { name: v.name, version: v.version, component: s.component } });
    }
    for (const c of state.lineageChildren(v.name, v.version)) {
      add({ name: c.name, version: c.version, relation: 'derived', via: { name: v.name, version: v.version } });
    }
  }
  const versions = [...found.values()].filter((v) => visible(v.name));
  const aliases = versions
    .flatMap((v) => v.aliases.map((a) => ({ name: v.name, alias: a.alias, version: v.version, since: a.since, seq: a.seq })))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.alias < b.alias ? -1 : 1));
  return { target, kind, versions, aliases };
}

/** The versions that list a blob among their files, with the paths. */
export function blobSeeds(state: RegistryReader, digest: string): Seed[] {
  return state.blobReferences(digest).flatMap((r) => {
    const version = state.getVersion(r.name, r.version);
    const paths = version?.files.filter((f) => f.digest === digest).map((f) => f.path) ?? [];
    // A reference from a pushed OCI manifest or config blob lists no file: still the version's.
    return [{ name: r.name, version: r.version, relation: 'file' as const, ...(paths.length > 0 ? { paths } : {}) }];
  });
}

export function datasetSeeds(state: RegistryReader, digestOrUri: string): Seed[] {
  return state.datasetReferences(digestOrUri).map((r) => ({ name: r.name, version: r.version, relation: 'dataset' as const }));
}

/**
 * The version's ancestors (its lineage parents, its components and their datasets, transitively)
 * and descendants (versions derived from it, stacks that pin it, transitively), as one graph.
 */
export function lineageGraph(state: RegistryReader, root: Version, visible: (name: string) => boolean, maxNodes = 10_000): LineageGraph {
  const nodes = new Map<string, LineageNode>();
  const edges: LineageEdge[] = [];
  const edgeKeys = new Set<string>();
  const versionNode = (v: Version): string => {
    const id = key(v.name, v.version);
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'version', name: v.name, version: v.version, digest: v.digest, status: v.status });
    return id;
  };
  const edge = (e: LineageEdge) => {
    const k = `${e.from}>${e.to}>${e.relation}>${e.component ?? ''}`;
    if (edgeKeys.has(k)) return;
    edgeKeys.add(k);
    edges.push(e);
  };
  // Up: what the root was made from.
  const up: Version[] = [root];
  const seenUp = new Set<string>([versionNode(root)]);
  while (up.length > 0 && nodes.size < maxNodes) {
    const v = up.shift()!;
    const id = key(v.name, v.version);
    const parent = parentOf(v.lineage);
    const next: [Version | undefined, LineageEdge['relation'], string?][] = [];
    if (parent) next.push([state.getVersion(parent.name, parent.version), 'parent']);
    for (const c of componentNames(v)) {
      const pin = v.components![c]!;
      next.push([state.getVersion(pin.name, pin.version), 'component', c]);
    }
    for (const [found, relation, component] of next) {
      if (!found || !visible(found.name)) continue;
      const from = versionNode(found);
      edge({ from, to: id, relation, ...(component ? { component } : {}) });
      if (!seenUp.has(from)) {
        seenUp.add(from);
        up.push(found);
      }
    }
    for (const d of v.lineage.datasets ?? []) {
      const dataKey = datasetKeys({ datasets: [d] })[0]!;
      const dataId = `dataset:${dataKey}`;
      if (!nodes.has(dataId)) nodes.set(dataId, { id: dataId, kind: 'dataset', dataset: { ...d } });
      edge({ from: dataId, to: id, relation: 'dataset' });
    }
  }
  // Down: what was made from the root.
  const down: Version[] = [root];
  const seenDown = new Set<string>([key(root.name, root.version)]);
  while (down.length > 0 && nodes.size < maxNodes) {
    const v = down.shift()!;
    const id = key(v.name, v.version);
    const next: [{ name: string; version: number }, LineageEdge['relation'], string?][] = [
      ...state.lineageChildren(v.name, v.version).map((c): [{ name: string; version: number }, LineageEdge['relation']] => [c, 'parent']),
      ...state
        .stacksContaining(v.name, v.version)
        .map((s): [{ name: string; version: number }, LineageEdge['relation'], string] => [s, 'component', s.component]),
    ];
    for (const [ref, relation, component] of next) {
      const found = state.getVersion(ref.name, ref.version);
      if (!found || !visible(found.name)) continue;
      const to = versionNode(found);
      edge({ from: id, to, relation, ...(component ? { component } : {}) });
      if (!seenDown.has(to)) {
        seenDown.add(to);
        down.push(found);
      }
    }
  }
  return { root: key(root.name, root.version), nodes: [...nodes.values()], edges };
}
