// Promotion gates: what a version must satisfy before a protected alias may point at it.
import type { Approval, CardField, Version } from './types.js';

export interface MetricThreshold {
  metric: string;
  op: '>=' | '>' | '<=' | '<' | '==';
  value: number;
  /** The text from the configuration, for messages. */
  text: string;
}

export interface AliasPolicy {
  /** Distinct approvers with an `approve` decision. */
  approvals: number;
  /** Approvals by the registrant do not count. */
  separationOfDuties: boolean;
  requiredCardFields: CardField[];
  metrics: MetricThreshold[];
  /** For a stack: every component (transitively) must meet this policy too, each on its own record and approvals. */
  requireComponents?: boolean;
  /** Earlier stages on the promotion path: the version must first have held one of them. */
  after?: string[];
  /** How long it must have held one of `after` (one stay, the current one counting up to now). */
  soakSeconds?: number;
  /** Who may move the alias; default an approver where approvals are required, a writer otherwise. */
  moveRole?: 'writer' | 'approver';
  /** A verified model signature (OpenSSF model signing, by a trusted key) must be attached to the version. */
  requireSignature?: boolean;
}

export interface Unmet {
  code: 'APPROVALS' | 'CARD_FIELD' | 'METRIC' | 'STATUS' | 'COMPONENT' | 'STAGE' | 'SOAK' | 'SIGNATURE';
  message: string;
  /** For COMPONENT: the component's path in the stack (`index/embedding`), its version, and what it lacks. */
  component?: string;
  ref?: string;
  cause?: Exclude<Unmet['code'], 'COMPONENT'>;
}

const THRESHOLD = /^\s*([A-Za-z0-9_.:/-]+)\s*(>=|<=|==|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?)\s*$/;

export function parseThreshold(text: string): MetricThreshold | null {
  const m = THRESHOLD.exec(text);
  if (!m) return null;
  return { metric: m[1]!, op: m[2] as MetricThreshold['op'], value: Number(m[3]), text: text.trim() };
}

function holds(actual: number, t: MetricThreshold): boolean {
  switch (t.op) {
    case '>=':
      return actual >= t.value;
    case '>':
      return actual > t.value;
    case '<=':
      return actual <= t.value;
    case '<':
      return actual < t.value;
    case '==':
      return actual === t.value;
  }
}

/** Every requirement of `policy` the version does not meet; empty when it may be promoted. */
export function unmetRequirements(
  policy: AliasPolicy,
  version: Pick<Version, 'status' | 'createdById' | 'card' | 'metrics'>,
  approvals: readonly Approval[],
): Unmet[] {
  const unmet: Unmet[] = [];
  if (version.status === 'rejected' || version.status === 'deprecated' || version.status === 'retired') {
    unmet.push({ code: 'STATUS', message: `version is ${version.status}` });
  }
  const approvers = new Set<string>();
  let selfApproved = false;
  for (const a of approvals) {
    if (a.decision !== 'approve') continue;
    if (policy.separationOfDuties && a.approver.id === version.createdById) selfApproved = true;
    else approvers.add(a.approver.id);
  }
  if (approvers.size < policy.approvals) {
    const who = policy.separationOfDuties ? ' from approvers other than the registrant' : '';
    const note = selfApproved ? " (the registrant's own approval does not count)" : '';
    unmet.push({ code: 'APPROVALS', message: `needs ${policy.approvals} approval(s)${who}, has ${approvers.size}${note}` });
  }
  for (const field of policy.requiredCardFields) {
    const value = version.card[field];
    const present = Array.isArray(value) ? value.length > 0 : typeof value === 'string' && value.trim() !== '';
    if (!present) unmet.push({ code: 'CARD_FIELD', message: `model card field "${field}" is missing` });
  }
  for (const t of policy.metrics) {
    const metric = version.metrics[t.metric];
    if (!metric) unmet.push({ code: 'METRIC', message: `metric "${t.metric}" is missing (needs ${t.text})` });
    else if (!holds(metric.value, t))
      unmet.push({ code: 'METRIC', message: `metric ${t.metric} = ${metric.value} does not meet ${t.text}` });
  }
  return unmet;
}
