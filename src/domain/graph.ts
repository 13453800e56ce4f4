// The answers of the incident queries (impact, lineage), shared by the registry that builds them
// and the client that reads them.
import type { VersionStatus } from './types.js';

export interface AliasHolding {
  alias: string;
  /** When the alias was moved to this version, and the sequence of that move. */
  since: string;
  seq: number;
}

export interface ImpactedVersion {
  name: string;
  version: number;
  digest: string;
  status: VersionStatus;
  isStack: boolean;
  /** How it includes the target: it lists the blob as a file, was trained on the dataset, is the version itself, pins an impacted version as a component, or descends from one. */
  relation: 'file' | 'dataset' | 'self' | 'component' | 'derived';
  /** For component and derived: the impacted version it includes or descends from, and the component name. */
  via?: { name: string; version: number; component?: string };
  /** The file paths that hold the blob (relation file). */
  paths?: string[];
  aliases: AliasHolding[];
}

export interface ImpactReport {
  target: string;
  kind: 'blob' | 'dataset' | 'version';
  versions: ImpactedVersion[];
  /** Every alias that holds an impacted version now: what an incident must roll back. */
  aliases: { name: string; alias: string; version: number; since: string; seq: number }[];
}

export interface LineageNode {
  id: string;
  kind: 'version' | 'dataset';
  name?: string;
  version?: number;
  digest?: string;
  status?: VersionStatus;
  /** A dataset's name, digest and URI as the lineage lists them. */
  dataset?: { name?: string; digest?: string; uri?: string };
}

export interface LineageEdge {
  /** The ingredient: the parent, the component, the dataset. */
  from: string;
  /** What was made from it. */
  to: string;
  relation: 'parent' | 'component' | 'dataset';
  /** For a component edge, its name in the stack. */
  component?: string;
}

export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
}
