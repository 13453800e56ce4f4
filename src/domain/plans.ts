// Every registry mutation as a pure function of the current state: read and validate (may throw),
// then return the writes. No backend code here, so LMDB and Redis enforce identical rules.
import { badRequest, conflict, forbidden, notFound } from './errors.js';
import { GENESIS_HASH, sealEntry } from './audit-chain.js';
import { tokenHashDigest } from './audit-tables.js';
import { CHECKPOINT_ACTION, type Checkpoint } from './checkpoint.js';
import { aliasMoveUnmet, currentApprovals, gateReads } from './gate.js';
import { fieldDigest, recordDigest, RECORD_FIELDS } from './record-digest.js';
import { evidenceReason } from './retention.js';
import type {
  Actor,
  AliasEvent,
  AliasPointer,
  Approval,
  AuditEntry,
  ManifestRecord,
  Model,
  ModelInfo,
  TokenRecord,
  Version,
  VersionEvent,
} from './types.js';
import { type AuditStep, auditSteps } from './audit-steps.js';
import type {
  AliasMove,
  AliasMoveResult,
  ApprovalCheck,
  ManifestAttach,
  ManifestPush,
  ManifestPushResult,
  NewVersion,
  VersionPatch,
} from './mutations.js';
import type { RegistryReader } from './state.js';
import type { Plan, Write } from './writes.js';
import { lineageIndexWrites, parentOf } from './lineage.js';
import { componentNames, stacksAbove } from './stack.js';
import { endpointWants, eventModel, type OutboxEntry } from './webhooks.js';

export function requireModel(state: RegistryReader, name: string): Model {
  const model = state.getModel(name);
  if (!model) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
  return model;
}

export function requireVersion(state: RegistryReader, name: string, number: number): Version {
  requireModel(state, name);
  const version = state.getVersion(name, number);
  if (!version) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
  return version;
}

/**
 * The global sequence bump and the chained audit entry that go with every mutation, and its
 * webhook outbox entry when an endpoint wants it: every event a mutation can produce flows to
 * webhooks from here, in the same atomic commit, with no per-event code.
 */
export function sequenceWrites(
  state: RegistryReader,
  seq: number,
  at: string,
  actor: Actor,
  action: string,
  target: string,
  details: Record<string, unknown>,
): Write[] {
  const head = state.auditHead();
  const unsealed = {
    seq,
    at,
    actor: { id: actor.id, name: actor.name },
    action,
    target,
    details,
    prevHash: head.seq === 0 ? GENESIS_HASH : head.hash,
  };
  const entry: AuditEntry = sealEntry(unsealed);
  const outbox = outboxEntry(state, entry);
  return [
    { table: 'meta', key: 'seq', value: seq },
    { table: 'meta', key: 'audit-head', value: { seq, hash: entry.hash } },
    { table: 'audit', key: seq, value: entry },
    ...(outbox ? [{ table: 'outbox', key: seq, value: outbox } satisfies Write] : []),
  ];
}

/**
 * The outbox entry for a change, naming the endpoints that want it; undefined when none does. A
 * compound entry (an OCI push that registered a version and moved an alias) goes, as one event with
 * its steps in `data.steps`, to every endpoint that wants any of its steps.
 */
function outboxEntry(state: RegistryReader, entry: AuditEntry): OutboxEntry | undefined {
  const model = eventModel(entry.action, entry.target);
  // Each step by its own model: a retire's flag on a stack of another model reaches that model's endpoints.
  const steps = auditSteps(entry).map((step) => ({ type: step.action, model: eventModel(step.action, step.target) }));
  const endpoints = state
    .listWebhooks()
    .filter((w) => steps.some((step) => endpointWants(w, step.type, step.model)))
    .map((w) => w.id);
  if (endpoints.length === 0) return undefined;
  return {
    seq: entry.seq,
    at: entry.at,
    type: entry.action,
    model,
    target: entry.target,
    actor: entry.actor,
    data: entry.details,
    endpoints,
  };
}

/** One part of a commit: the rows it writes and the audit entry it would be alone. */
interface Step<R> {
  result: R;
  writes: Write[];
  audit: AuditStep;
}

/** A part of a commit that finds nothing to do (an idempotent repeat). */
interface NoStep<R> {
  result: R;
  writes: [];
  audit: null;
}

/**
 * What retiring or rejecting `component` does to the stacks above it, directly or through other
 * stacks, as part of the same commit: an event on each stack and the audit step each would log
 * alone (`version.component-flagged`, so watchers of the stack's model and its auditors see it). A
 * stack's flagged status itself is read from its closure (resolve, show, the gate); these make it
 * visible and audited, and committing them with the status change means no crash can lose them.
 */
function flagStacksAboveSteps(
  state: RegistryReader,
  component: Version,
  actor: Actor,
  seq: number,
  at: string,
): { writes: Write[]; audits: AuditStep[] } {
  const ref = `${component.name}@v${component.version}`;
  const writes: Write[] = [];
  const audits: AuditStep[] = [];
  for (const above of stacksAbove(state, component.name, component.version)) {
    const stack = state.getVersion(above.name, above.version);
    if (!stack) continue;
    const path = above.path.join('/');
    const event: VersionEvent = {
      seq,
      name: stack.name,
      version: stack.version,
      action: 'component',
      actor,
      at,
      comment: `component ${path} (${ref}) is ${component.status}`,
    };
    writes.push({ table: 'versionEvents', key: [stack.name, stack.version, seq], value: event });
    audits.push({
      action: 'version.component-flagged',
      target: `${stack.name}@v${stack.version}`,
      details: { component: path, ref, status: component.status, digest: stack.digest },
    });
  }
  return { writes, audits };
}

/**
 * The writes of a version's status change (an approval, a rejection, a retire) at `event.seq`: the
 * version row, its event, and one audit entry `action` with `details`. With `flagStacks`, the stacks
 * above are flagged in the same commit (flagStacksAboveSteps) and the audit entry lists those steps.
 */
function statusChangeWrites(
  state: RegistryReader,
  version: Version,
  event: VersionEvent,
  action: string,
  details: Record<string, unknown>,
  opts: { flagStacks: boolean },
): Write[] {
  const { seq, at, actor } = event;
  const flags = opts.flagStacks ? flagStacksAboveSteps(state, version, actor, seq, at) : { writes: [], audits: [] };
  const ref = `${version.name}@v${version.version}`;
  return [
    { table: 'versions', key: [version.name, version.version], value: version },
    { table: 'versionEvents', key: [version.name, version.version, seq], value: event },
    ...flags.writes,
    ...sequenceWrites(state, seq, at, actor, action, ref, withSteps(details, flags.audits)),
  ];
}

/** An audit entry's details with the other steps of its commit listed (see audit-steps.ts); unchanged when there are none. */
function withSteps(details: Record<string, unknown>, steps: AuditStep[]): Record<string, unknown> {
  return steps.length === 0 ? details : { ...details, steps };
}

/** The sequence bump and audit entry of a commit made of one step. */
function stepAudit(state: RegistryReader, seq: number, at: string, actor: Actor, step: Step<unknown>): Write[] {
  return sequenceWrites(state, seq, at, actor, step.audit.action, step.audit.target, step.audit.details);
}

export function next(state: RegistryReader): { seq: number; at: string } {
  return { seq: state.currentSeq() + 1, at: new Date().toISOString() };
}

/** A stack's entries in the component → stack index; `add` false removes them. */
function componentIndexWrites(stack: Version, add: boolean): Write[] {
  return componentNames(stack).map((component): Write => {
    const pin = stack.components![component]!;
    return { table: 'componentRefs', key: [pin.name, pin.version, stack.name, stack.version], value: add ? component : undefined };
  });
}

/** The lineage parent must exist (a version deleted since the registry resolved it is refused here). */
function requireParent(state: RegistryReader, lineage: Version['lineage'] | undefined): void {
  const parent = parentOf(lineage);
  if (parent && !state.getVersion(parent.name, parent.version)) {
    throw badRequest('LINEAGE_PARENT_NOT_FOUND', `lineage.parent: ${parent.name}@v${parent.version} does not exist`, {
      parent: lineage!.parent,
    });
  }
}

function uniqueDigests(files: readonly { digest: string }[]): string[] {
  return [...new Set(files.map((f) => f.digest))];
}

export function planCreateModel(state: RegistryReader, name: string, info: ModelInfo, actor: Actor): Plan<Model> {
  if (state.getModel(name)) throw conflict('MODEL_EXISTS', `model "${name}" already exists`);
  const { seq, at } = next(state);
  const model: Model = { name, ...info, createdAt: at, createdBy: actor.name, latestVersion: 0, seq, updatedAt: at };
  return {
    result: model,
    writes: [{ table: 'models', key: name, value: model }, ...sequenceWrites(state, seq, at, actor, 'model.create', name, { ...info })],
    change: { seq, model: name, kind: 'model' },
  };
}

export function planUpdateModel(state: RegistryReader, name: string, info: Partial<ModelInfo>, actor: Actor): Plan<Model> {
  const current = requireModel(state, name);
  const { seq, at } = next(state);
  const model: Model = { ...current, ...info, seq, updatedAt: at };
  return {
    result: model,
    writes: [{ table: 'models', key: name, value: model }, ...sequenceWrites(state, seq, at, actor, 'model.update', name, { ...info })],
    change: { seq, model: name, kind: 'model' },
  };
}

export function planRegisterVersion(state: RegistryReader, input: NewVersion, actor: Actor): Plan<{ version: Version; created: boolean }> {
  const existing = state.getVersionByDigest(input.name, input.digest);
  if (existing) return { result: { version: existing, created: false }, writes: [] };
  const { seq, at } = next(state);
  const step = registerVersionStep(state, input, actor, seq, at);
  return {
    result: { version: step.result, created: true },
    writes: [...step.writes, ...stepAudit(state, seq, at, actor, step)],
    change: { seq, model: input.name, kind: 'version', version: step.result.version },
  };
}

/** A new version (and its model, if new) at `seq`; the caller has checked that no version has these files. */
function registerVersionStep(state: RegistryReader, input: NewVersion, actor: Actor, seq: number, at: string): Step<Version> {
  // The registry resolved these before; checked again here, inside the commit, against a concurrent deletion.
  for (const component of componentNames(input)) {
    const pin = input.components![component]!;
    if (state.getVersion(pin.name, pin.version)?.digest !== pin.digest) {
      throw badRequest('COMPONENT_NOT_FOUND', `component "${component}": ${pin.name}@v${pin.version} (${pin.digest}) does not exist`, {
        component,
      });
    }
    if (state.getVersion(pin.name, pin.version)!.status === 'retired') {
      throw badRequest('COMPONENT_RETIRED', `component "${component}": ${pin.name}@v${pin.version} is retired`, { component });
    }
  }
  requireParent(state, input.record.lineage);
  const model = state.getModel(input.name);
  const number = (model?.latestVersion ?? 0) + 1;
  if (input.number !== undefined && input.number !== number) {
    throw conflict('VERSION_NUMBER_TAKEN', `${input.name}@v${input.number} cannot be created: the next version number is ${number}`, {
      next: number,
    });
  }
  const version: Version = {
    name: input.name,
    version: number,
    digest: input.digest,
    files: input.files,
    size: input.size,
    ...(input.components && Object.keys(input.components).length > 0 ? { components: input.components } : {}),
    status: 'registered',
    ...input.record,
    createdAt: at,
    createdById: actor.id,
    createdBy: actor.name,
    protectedAliases: [],
    ociLayout: 'modelpack-v2',
    seq,
  };
  version.recordDigest = recordDigest(version);
  version.recordChangedAt = at;
  const nextModel: Model = model
    ? { ...model, latestVersion: number, seq, updatedAt: at }
    : {
        name: input.name,
        description: '',
        owner: actor.name,
        tags: [],
        createdAt: at,
        createdBy: actor.name,
        latestVersion: number,
        seq,
        updatedAt: at,
      };
  const event: VersionEvent = { seq, name: input.name, version: number, action: 'register', actor, at };
  return {
    result: version,
    writes: [
      { table: 'models', key: input.name, value: nextModel },
      { table: 'versions', key: [input.name, number], value: version },
      { table: 'versionDigests', key: [input.name, input.digest], value: number },
      { table: 'versionEvents', key: [input.name, number, seq], value: event },
      ...uniqueDigests(input.files).map((d): Write => ({ table: 'blobRefs', key: [d, input.name, number], value: true })),
      ...componentIndexWrites(version, true),
      ...lineageIndexWrites(input.name, number, version.lineage, true),
    ],
    audit: {
      action: 'version.register',
      target: `${input.name}@v${number}`,
      details: {
        digest: input.digest,
        files: input.files.length,
        size: input.size,
        ...(version.components
          ? { components: Object.fromEntries(componentNames(version).map((c) => [c, version.components![c]!.digest])) }
          : {}),
        recordDigest: version.recordDigest,
        modelCreated: !model,
      },
    },
  };
}

/**
 * An edit of a version's record (metadata, lineage, metrics, card) or its deprecation. A changed
 * record voids the approvals of the old one: an `approved` version goes back to `registered`
 * (`rejected`, `deprecated` and `retired` stay: those are never undone by an edit). `check` sees
 * the version before and after and may refuse (an edit that breaks a held alias's policy); it
 * returns the protected aliases the version keeps serving on with a record not yet re-approved.
 */
export function planUpdateVersion(
  state: RegistryReader,
  name: string,
  number: number,
  patch: VersionPatch,
  actor: Actor,
  check?: (before: Version, after: Version) => string[] | undefined,
): Plan<Version> {
  const current = requireVersion(state, name, number);
  if (current.status === 'retired') throw conflict('VERSION_RETIRED', `${name}@v${number} is retired; its record is final`);
  if (patch.lineage !== undefined) requireParent(state, patch.lineage);
  const { seq, at } = next(state);
  const changes: Record<string, { before: unknown; after: unknown }> = {};
  const audited: Record<string, { before: string; after: string }> = {};
  const updated: Version = { ...current, seq };
  for (const field of RECORD_FIELDS) {
    if (patch[field] === undefined) continue;
    changes[field] = { before: current[field], after: patch[field] };
    audited[field] = { before: fieldDigest(current[field]), after: fieldDigest(patch[field]) };
    (updated as unknown as Record<string, unknown>)[field] = patch[field];
  }
  const before = recordDigest(current);
  const after = recordDigest(updated);
  const recordChanged = before !== after;
  const voided = recordChanged ? currentApprovals(current, state.listApprovals(name, number)).filter((a) => a.decision === 'approve') : [];
  let status = current.status;
  if (patch.status === 'deprecated' && status !== 'rejected') status = 'deprecated';
  else if (recordChanged && status === 'approved') status = 'registered';
  if (status !== current.status) changes.status = { before: current.status, after: status };
  updated.status = status;
  updated.recordDigest = after;
  updated.recordChangedAt = recordChanged ? at : (current.recordChangedAt ?? current.createdAt);
  // The protected aliases the version keeps serving on although the new record is not yet approved.
  const unapprovedOn = check?.(current, updated) ?? [];
  const event: VersionEvent = { seq, name, version: number, action: 'update', actor, at, changes };
  return {
    result: updated,
    writes: [
      { table: 'versions', key: [name, number], value: updated },
      { table: 'versionEvents', key: [name, number, seq], value: event },
      ...(patch.lineage !== undefined
        ? [...lineageIndexWrites(name, number, current.lineage, false), ...lineageIndexWrites(name, number, updated.lineage, true)]
        : []),
      ...sequenceWrites(state, seq, at, actor, 'version.update', `${name}@v${number}`, {
        fields: Object.keys(changes),
        changes: audited,
        recordDigest: { before, after },
        ...(status !== current.status ? { status: { before: current.status, after: status } } : {}),
        ...(voided.length > 0 ? { approvalsVoided: voided.map((a) => a.seq) } : {}),
        ...(unapprovedOn.length > 0 ? { servingUnapproved: { since: updated.recordChangedAt, aliases: unapprovedOn } } : {}),
      }),
    ],
    change: { seq, model: name, kind: 'version', version: number },
  };
}

export function planApproval(
  state: RegistryReader,
  name: string,
  number: number,
  decision: 'approve' | 'reject',
  comment: string | undefined,
  actor: Actor,
  check: ApprovalCheck,
): Plan<{ approval: Approval; version: Version }> {
  const current = requireVersion(state, name, number);
  if (current.status === 'retired') throw conflict('VERSION_RETIRED', `${name}@v${number} is retired; no decision can be taken on it`);
  if (current.status === 'rejected') throw conflict('VERSION_REJECTED', `${name}@v${number} was rejected; a rejection is final`);
  check(current, state.listApprovals(name, number));
  const { seq, at } = next(state);
  const digest = recordDigest(current);
  const approval: Approval = {
    seq,
    name,
    version: number,
    decision,
    approver: actor,
    at,
    ...(comment ? { comment } : {}),
    recordDigest: digest,
  };
  const status = decision === 'reject' ? 'rejected' : current.status === 'registered' ? 'approved' : current.status;
  const version: Version = { ...current, status, seq };
  const event: VersionEvent = {
    seq,
    name,
    version: number,
    action: decision,
    actor,
    at,
    ...(status !== current.status ? { changes: { status: { before: current.status, after: status } } } : {}),
    ...(comment ? { comment } : {}),
  };
  return {
    result: { approval, version },
    writes: [
      { table: 'approvals', key: [name, number, seq], value: approval },
      // A rejection (final, so this is the first) flags the stacks above in the same commit.
      ...statusChangeWrites(
        state,
        version,
        event,
        `version.${decision}`,
        { status, recordDigest: digest, ...(comment ? { comment } : {}) },
        { flagStacks: decision === 'reject' },
      ),
    ],
    change: { seq, model: name, kind: 'version', version: number },
  };
}

export function planMoveAlias(state: RegistryReader, move: AliasMove, actor: Actor): Plan<AliasMoveResult> {
  requireModel(state, move.name);
  const { seq, at } = next(state);
  const to = move.to;
  const step = moveAliasStep(state, move, () => (to === null ? undefined : requireVersion(state, move.name, to)), actor, seq, at);
  if (!step.audit) return { result: step.result, writes: [] };
  return {
    result: step.result,
    writes: [...step.writes, ...stepAudit(state, seq, at, actor, step)],
    change: { seq, model: move.name, kind: 'alias', alias: move.alias },
  };
}

/**
 * An alias move at `seq` to the version `move.to` names, which `target` reads (after the
 * compare-and-set, so a stale `expected` is reported first; in a manifest push the version is
 * registered in the same commit). Runs the promotion gate; a move to where the alias already
 * points is a step with no writes and no audit.
 */
function moveAliasStep(
  state: RegistryReader,
  move: AliasMove,
  readTarget: () => Version | undefined,
  actor: Actor,
  seq: number,
  at: string,
): Step<AliasMoveResult> | NoStep<AliasMoveResult> {
  const { name, alias } = move;
  const current = state.getAlias(name, alias);
  const previous = current?.version ?? null;
  if (move.expected !== undefined && move.expected !== previous) {
    throw conflict(
      'ALIAS_CONFLICT',
      `${name}@${alias} points at ${previous === null ? 'nothing' : `v${previous}`}, not ${move.expected === null ? 'nothing' : `v${move.expected}`}`,
      { current: previous, expected: move.expected },
    );
  }
  if (move.to === null && !current) throw notFound('ALIAS_NOT_FOUND', `${name}@${alias} does not exist`);
  const target = readTarget();
  if (target && move.action !== 'delete') {
    const unmet = aliasMoveUnmet({
      policy: move.policy,
      action: move.action,
      version: target,
      reads: gateReads(state, alias, target),
    });
    if (unmet.length > 0) {
      throw forbidden(
        'POLICY_UNMET',
        `${name}@v${target.version} cannot become ${name}@${alias}: ${unmet.map((u) => u.message).join('; ')}`,
        unmet,
      );
    }
  }
  if (move.to === previous) {
    return { result: { name, alias, version: previous, previous, seq: current!.seq, changed: false }, writes: [], audit: null };
  }

  const targetRecord = target ? recordDigest(target) : undefined;
  const event: AliasEvent = {
    seq,
    name,
    alias,
    action: move.action,
    from: previous,
    to: move.to,
    actor,
    at,
    ...(move.reason ? { reason: move.reason } : {}),
    ...(targetRecord ? { recordDigest: targetRecord } : {}),
  };
  const pointer: AliasPointer | undefined =
    move.to === null ? undefined : { name, alias, version: move.to, seq, updatedAt: at, updatedBy: actor.name };
  const writes: Write[] = [
    { table: 'aliases', key: [name, alias], value: pointer },
    { table: 'aliasEvents', key: [name, alias, seq], value: event },
  ];
  if (target && move.policy && !target.protectedAliases.includes(alias)) {
    writes.push({
      table: 'versions',
      key: [name, target.version],
      value: { ...target, protectedAliases: [...target.protectedAliases, alias] },
    });
  }
  return {
    result: { name, alias, version: move.to, previous, seq, changed: true },
    writes,
    audit: {
      action: `alias.${move.action}`,
      target: `${name}@${alias}`,
      details: {
        from: previous,
        to: move.to,
        ...(move.reason ? { reason: move.reason } : {}),
        ...(targetRecord ? { recordDigest: targetRecord } : {}),
        // The alias is under a policy: the target keeps it in protectedAliases (retention evidence).
        ...(target && move.policy ? { protected: true } : {}),
      },
    },
  };
}

/** Takes a version out of service for good: no alias may point at it again; its bytes stay readable by digest. */
export function planRetireVersion(
  state: RegistryReader,
  name: string,
  number: number,
  reason: string | undefined,
  actor: Actor,
): Plan<Version> {
  const current = requireVersion(state, name, number);
  if (current.status === 'retired') return { result: current, writes: [] };
  const holders = state
    .listAliases(name)
    .filter((a) => a.version === number)
    .map((a) => a.alias);
  if (holders.length > 0) {
    throw conflict('VERSION_IN_USE', `${name}@v${number} is held by ${holders.map((a) => `@${a}`).join(', ')}; move those aliases first`);
  }
  const { seq, at } = next(state);
  const version: Version = { ...current, status: 'retired', seq };
  const event: VersionEvent = {
    seq,
    name,
    version: number,
    action: 'retire',
    actor,
    at,
    changes: { status: { before: current.status, after: 'retired' } },
    ...(reason ? { comment: reason } : {}),
  };
  return {
    result: version,
    writes: statusChangeWrites(
      state,
      version,
      event,
      'version.retire',
      { status: { before: current.status, after: 'retired' }, ...(reason ? { reason } : {}) },
      { flagStacks: true },
    ),
    change: { seq, model: name, kind: 'version', version: number },
  };
}

/**
 * Deletes a version nothing holds or pins. Evidence (retired, or once held a protected alias) is
 * refused unless `opts.evidence` says retention may take it (`retention.evidenceVersionDays`); the
 * audit entry then says which evidence went.
 */
export function planDeleteVersion(
  state: RegistryReader,
  name: string,
  number: number,
  reason: string,
  actor: Actor,
  opts: { evidence?: boolean } = {},
): Plan<void> {
  const version = requireVersion(state, name, number);
  const holders = state
    .listAliases(name)
    .filter((a) => a.version === number)
    .map((a) => a.alias);
  if (holders.length > 0) throw conflict('VERSION_IN_USE', `${name}@v${number} is held by ${holders.map((a) => `@${a}`).join(', ')}`);
  const stacks = state.stacksContaining(name, number);
  if (stacks.length > 0) {
    const named = stacks.map((s) => `${s.name}@v${s.version} (as "${s.component}")`);
    throw conflict('VERSION_IN_USE', `${name}@v${number} is a component of ${named.join(', ')}; delete those stacks first`, {
      stacks: stacks.map((s) => ({ name: s.name, version: s.version, component: s.component })),
    });
  }
  const evidence = evidenceReason(version);
  if (version.protectedAliases.length > 0 && !opts.evidence) {
    throw conflict(
      'VERSION_RETAINED',
      `${name}@v${number} once held protected alias(es) ${version.protectedAliases.join(', ')} and is kept forever`,
    );
  }
  if (version.status === 'retired' && !opts.evidence)
    throw conflict('VERSION_RETAINED', `${name}@v${number} is retired and kept as evidence`);
  const manifests = state.listManifests(name).filter((m) => m.version === number);
  const { seq, at } = next(state);
  return {
    result: undefined,
    writes: [
      { table: 'versions', key: [name, number] },
      { table: 'versionDigests', key: [name, version.digest] },
      ...uniqueDigests(version.files).map((d): Write => ({ table: 'blobRefs', key: [d, name, number] })),
      ...componentIndexWrites(version, false),
      ...lineageIndexWrites(name, number, version.lineage, false),
      ...manifests.flatMap((m): Write[] => [
        { table: 'manifests', key: [name, m.digest] },
        ...manifestBlobs(m).map((d): Write => ({ table: 'blobRefs', key: [d, name, number] })),
      ]),
      ...sequenceWrites(state, seq, at, actor, 'version.delete', `${name}@v${number}`, {
        digest: version.digest,
        reason,
        ...(evidence !== null ? { evidence } : {}),
      }),
    ],
    change: { seq, model: name, kind: 'version', version: number },
  };
}

export function planCreateToken(state: RegistryReader, record: TokenRecord, actor: Actor): Plan<void> {
  if (state.getToken(record.id)) throw conflict('TOKEN_EXISTS', `token ${record.id} already exists`);
  const { seq, at } = next(state);
  return {
    result: undefined,
    writes: [
      { table: 'tokens', key: record.id, value: record },
      ...sequenceWrites(state, seq, at, actor, 'token.create', `token:${record.id}`, {
        name: record.name,
        role: record.role,
        scope: record.scope,
        expiresAt: record.expiresAt,
        // Pins the row's secret hash (audit verify compares) without putting the hash in the log.
        hashDigest: tokenHashDigest(record.hash),
      }),
    ],
    change: { seq, model: '', kind: 'token' },
  };
}

export function planRevokeToken(state: RegistryReader, id: string, actor: Actor): Plan<TokenRecord> {
  const token = state.getToken(id);
  if (!token) throw notFound('TOKEN_NOT_FOUND', `token ${id} does not exist`);
  if (token.revokedAt) return { result: token, writes: [] };
  const { seq, at } = next(state);
  const revoked = { ...token, revokedAt: at };
  return {
    result: revoked,
    writes: [
      { table: 'tokens', key: id, value: revoked },
      ...sequenceWrites(state, seq, at, actor, 'token.revoke', `token:${id}`, { name: token.name }),
    ],
    change: { seq, model: '', kind: 'token' },
  };
}

export function planAudit(
  state: RegistryReader,
  action: string,
  target: string,
  details: Record<string, unknown>,
  actor: Actor,
): Plan<number> {
  const { seq, at } = next(state);
  return { result: seq, writes: sequenceWrites(state, seq, at, actor, action, target, details), change: { seq, model: '', kind: 'audit' } };
}

/** An OCI manifest of version `input.version` at `seq`; the same manifest recorded again is a step with no writes. */
function recordManifestStep(
  state: RegistryReader,
  input: Omit<ManifestRecord, 'createdAt' | 'createdBy'>,
  actor: Actor,
  at: string,
): Step<ManifestRecord> | NoStep<ManifestRecord> {
  const existing = state.getManifest(input.name, input.digest);
  if (existing) {
    if (existing.version !== input.version) {
      throw conflict('MANIFEST_CONFLICT', `manifest ${input.digest} already belongs to ${input.name}@v${existing.version}`);
    }
    return { result: existing, writes: [], audit: null };
  }
  const manifest: ManifestRecord = { ...input, createdAt: at, createdBy: actor.name };
  return {
    result: manifest,
    writes: [
      { table: 'manifests', key: [input.name, input.digest], value: manifest },
      ...manifestBlobs(manifest).map((d): Write => ({ table: 'blobRefs', key: [d, input.name, input.version], value: true })),
    ],
    audit: {
      action: 'manifest.push',
      target: `${input.name}@v${input.version}`,
      details: {
        digest: input.digest,
        mediaType: input.mediaType,
        size: input.size,
        ...(input.subject !== undefined ? { subject: input.subject, artifactType: input.artifactType ?? null } : {}),
      },
    },
  };
}

/**
 * The blobs a manifest record keeps from GC for its version, as the version's files are: its own
 * bytes, its config and, for a referrer, its layers (a version's own manifests' layers are its files).
 */
function manifestBlobs(m: Pick<ManifestRecord, 'digest' | 'configDigest' | 'blobs'>): string[] {
  return uniqueDigests([m.digest, m.configDigest, ...(m.blobs ?? [])].map((digest) => ({ digest })));
}

/**
 * A referrer (a manifest whose subject is a manifest of this model: a signature, an SBOM, an
 * attestation) recorded for the version its subject stands for, in one commit: no version is
 * registered and no alias moves. It goes when that version is deleted.
 */
export function planAttachManifest(state: RegistryReader, input: ManifestAttach, actor: Actor): Plan<ManifestRecord> {
  if (!state.getVersion(input.name, input.version)) throw notFound('VERSION_NOT_FOUND', `${input.name}@v${input.version} does not exist`);
  const { seq, at } = next(state);
  const step = recordManifestStep(state, input, actor, at);
  if (!step.audit) return { result: step.result, writes: [] };
  return {
    result: step.result,
    writes: [...step.writes, ...sequenceWrites(state, seq, at, actor, step.audit.action, step.audit.target, step.audit.details)],
    change: { seq, model: input.name, kind: 'version', version: input.version },
  };
}

/**
 * An OCI manifest push as one commit: registers the version its layers make (unless these files
 * already are one), records the manifest, and moves the alias the tag names (through the same
 * gate as every alias move). Either all of it is committed, under one sequence number, or nothing.
 * When more than one step writes, the audit entry is the manifest's, listing the other steps in
 * `details.steps` (see audit-steps.ts); a single step is logged as it would be alone.
 */
export function planPushManifest(state: RegistryReader, push: ManifestPush, actor: Actor): Plan<ManifestPushResult> {
  const { seq, at } = next(state);
  const existing = state.getVersionByDigest(push.version.name, push.version.digest);
  if (existing && push.version.number !== undefined && existing.version !== push.version.number) {
    throw badRequest('MANIFEST_INVALID', `these files are already ${existing.name}@v${existing.version}, not v${push.version.number}`, {
      version: existing.version,
    });
  }
  const registered = existing ? null : registerVersionStep(state, push.version, actor, seq, at);
  const version = existing ?? registered!.result;
  const manifest = recordManifestStep(state, { ...push.manifest, name: push.version.name, version: version.version }, actor, at);
  const moved = push.alias
    ? moveAliasStep(state, { ...push.alias, name: push.version.name, to: version.version }, () => version, actor, seq, at)
    : null;
  const steps: Step<unknown>[] = [];
  for (const step of [registered, manifest, moved]) if (step?.audit) steps.push(step);
  const result: ManifestPushResult = {
    version,
    created: registered !== null,
    manifest: manifest.result,
    ...(moved ? { alias: moved.result } : {}),
  };
  if (steps.length === 0) return { result, writes: [] };
  // More than one step means a new manifest (a new version or an alias move come with one).
  const audit: AuditStep =
    steps.length === 1 || !manifest.audit
      ? steps[0]!.audit
      : {
          ...manifest.audit,
          details: { ...manifest.audit.details, steps: steps.filter((step) => step !== manifest).map((step) => step.audit) },
        };
  return {
    result,
    writes: [...steps.flatMap((step) => step.writes), ...sequenceWrites(state, seq, at, actor, audit.action, audit.target, audit.details)],
    change: moved?.audit
      ? { seq, model: push.version.name, kind: 'alias', alias: moved.result.alias }
      : { seq, model: push.version.name, kind: 'version', version: version.version },
  };
}

/**
 * Records a signed checkpoint of the chain's head as an audit entry (and as the last checkpoint).
 * Nothing is written when the chain has not moved since the last checkpoint's own entry (two nodes
 * signing the same head at once: the first commit wins and the other, re-planned on its state,
 * sees it). `sign` runs inside the commit so the head it signs is the head the entry follows.
 */
export function planCheckpoint(
  state: RegistryReader,
  sign: (head: { seq: number; hash: string; at: string }) => Checkpoint,
  actor: Actor,
): Plan<{ checkpoint: Checkpoint | null; created: boolean }> {
  const head = state.auditHead();
  const last = state.lastCheckpoint();
  const unchanged = { result: { checkpoint: last?.checkpoint ?? null, created: false }, writes: [] };
  if (head.seq === 0) return unchanged;
  if (last && head.seq <= last.entrySeq) return unchanged;
  const { seq, at } = next(state);
  const checkpoint = sign({ seq: head.seq, hash: head.hash, at });
  return {
    result: { checkpoint, created: true },
    writes: [
      { table: 'meta', key: 'last-checkpoint', value: { entrySeq: seq, checkpoint } },
      ...sequenceWrites(state, seq, at, actor, CHECKPOINT_ACTION, 'audit', { ...checkpoint }),
    ],
    change: { seq, model: '', kind: 'audit' },
  };
}
