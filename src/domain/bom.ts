// A version as a CycloneDX 1.6 ML-BOM (JSON): the version is a `machine-learning-model`
// component carrying its model card (intended use, limitations, metrics, datasets) and its files
// as `file` components with SHA-256 hashes; the datasets of its lineage are `data` components;
// a stack's pinned components are model components it depends on. What CycloneDX has no field
// for (the version and record digests, status, aliases, approvals, the rest of the card) is kept
// in `modelgate:` properties, so the BOM carries the whole governance record.
import { randomUUID } from 'node:crypto';
import type { SignatureRecord } from './model-signing.js';
import type { AliasPointer, Approval, DatasetRef, Model, Version } from './types.js';

export const BOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json; version=1.6';

export interface BomInput {
  model: Model;
  version: Version;
  /** The aliases that point at this version now. */
  aliases: AliasPointer[];
  approvals: Approval[];
  /** Verified model signatures attached to the version. */
  signatures: Pick<SignatureRecord, 'id' | 'keyId' | 'addedAt'>[];
  /** The pinned components of a stack, as the registry holds them (undefined for one that was deleted). */
  components: { role: string; version: Version | undefined; pin: NonNullable<Version['components']>[string] }[];
  tool: { name: string; version: string };
  now: Date;
}

type Json = Record<string, unknown>;

const property = (name: string, value: string | number): Json => ({ name: `modelgate:${name}`, value: String(value) });
const hex = (digest: string) => digest.replace(/^sha256:/, '');

export function versionRef(name: string, version: number): string {
  return `${name}@v${version}`;
}

export function buildBom(input: BomInput): Json {
  const { model, version } = input;
  const ref = versionRef(version.name, version.version);
  const datasets = (version.lineage.datasets ?? []).map((d, i) => datasetComponent(d, `${ref}#dataset-${i + 1}`));
  const stack = uniqueBy(
    input.components.map((c) => componentModel(c)),
    (c) => c['bom-ref'] as string,
  );
  const subject: Json = {
    type: 'machine-learning-model',
    'bom-ref': ref,
    name: version.name,
    version: `v${version.version}`,
    ...(model.description ? { description: model.description } : {}),
    ...(model.owner ? { manufacturer: { name: model.owner } } : {}),
    ...(model.tags.length > 0 ? { tags: model.tags } : {}),
    ...(version.lineage.code
      ? { externalReferences: [{ type: 'vcs', url: version.lineage.code.repo, comment: `commit ${version.lineage.code.commit}` }] }
      : {}),
    ...(version.lineage.parent ? { pedigree: { ancestors: [parentComponent(version.lineage.parent)] } } : {}),
    modelCard: modelCard(version, datasets),
    components: version.files.map((f) => ({
      type: 'file',
      'bom-ref': `${ref}#file:${f.path}`,
      name: f.path,
      hashes: [{ alg: 'SHA-256', content: hex(f.digest) }],
      properties: [property('size', f.size)],
    })),
    properties: [
      property('version-digest', version.digest),
      ...(version.recordDigest ? [property('record-digest', version.recordDigest)] : []),
      property('status', version.status),
      property('registered-at', version.createdAt),
      property('registered-by', version.createdBy),
      property('size', version.size),
      ...input.aliases.map((a) => property('alias', `${a.alias} (since ${a.updatedAt}, by ${a.updatedBy})`)),
      ...version.protectedAliases.map((a) => property('protected-alias-held', a)),
      ...input.approvals.map((a) =>
        property(
          `decision:${a.decision}`,
          `${a.approver.name} at ${a.at}${a.recordDigest ? ` on record ${a.recordDigest}` : ''}${a.comment ? `: ${a.comment}` : ''}`,
        ),
      ),
      ...input.signatures.map((sig) => property('signature', `${sig.id} by key ${sig.keyId}, attached ${sig.addedAt}`)),
      ...(version.lineage.trainingRunId ? [property('training-run', version.lineage.trainingRunId)] : []),
      ...Object.entries(version.metadata).map(([k, v]) => property(`metadata:${k}`, typeof v === 'string' ? v : JSON.stringify(v))),
    ],
  };
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: input.now.toISOString(),
      tools: { components: [{ type: 'application', name: input.tool.name, version: input.tool.version }] },
      component: subject,
    },
    components: [...datasets, ...stack],
    dependencies: [{ ref, dependsOn: stack.map((c) => c['bom-ref'] as string) }, ...stack.map((c) => ({ ref: c['bom-ref'] as string }))],
  };
}

function modelCard(version: Version, datasets: Json[]): Json {
  const card = version.card;
  const parameters: Json = {
    ...(typeof version.metadata.architecture === 'string' ? { modelArchitecture: version.metadata.architecture } : {}),
    ...(typeof version.metadata.task === 'string' ? { task: version.metadata.task } : {}),
    ...(datasets.length > 0 ? { datasets: datasets.map((d) => ({ ref: d['bom-ref'] })) } : {}),
  };
  const metrics = Object.entries(version.metrics).map(([name, m]) => ({
    type: name,
    value: String(m.value),
    ...(m.dataset || m.split ? { slice: [m.dataset, m.split].filter(Boolean).join('/') } : {}),
  }));
  const considerations: Json = {
    ...(card.intendedUse ? { useCases: [card.intendedUse] } : {}),
    ...(card.limitations ? { technicalLimitations: [card.limitations] } : {}),
  };
  const extra = (['outOfScopeUse', 'trainingData', 'evaluation', 'monitoring'] as const)
    .filter((f) => card[f])
    .map((f) => property(`card:${f}`, card[f]!));
  for (const contact of card.contacts ?? []) extra.push(property('card:contact', contact));
  return {
    'bom-ref': `${versionRef(version.name, version.version)}#model-card`,
    ...(Object.keys(parameters).length > 0 ? { modelParameters: parameters } : {}),
    ...(metrics.length > 0 ? { quantitativeAnalysis: { performanceMetrics: metrics } } : {}),
    ...(Object.keys(considerations).length > 0 ? { considerations } : {}),
    ...(extra.length > 0 ? { properties: extra } : {}),
  };
}

function datasetComponent(d: DatasetRef, ref: string): Json {
  const name = d.name ?? d.uri ?? d.digest!;
  return {
    type: 'data',
    'bom-ref': ref,
    name,
    ...(d.digest ? { hashes: [{ alg: 'SHA-256', content: hex(d.digest) }] } : {}),
    data: [{ type: 'dataset', name, ...(d.uri ? { contents: { url: d.uri } } : {}) }],
  };
}

function parentComponent(parent: string): Json {
  const at = parent.lastIndexOf('@');
  return { type: 'machine-learning-model', name: parent.slice(0, at), version: parent.slice(at + 1) };
}

function componentModel(c: BomInput['components'][number]): Json {
  return {
    type: 'machine-learning-model',
    'bom-ref': versionRef(c.pin.name, c.pin.version),
    name: c.pin.name,
    version: `v${c.pin.version}`,
    properties: [
      property('component-role', c.role),
      property('version-digest', c.pin.digest),
      property('pinned-as', c.pin.ref),
      property('status', c.version?.status ?? 'deleted'),
    ],
  };
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}
