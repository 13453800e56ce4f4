// Freezing a stack's component references at registration: each `name@ref` is resolved to the
// version it names now, checked against the caller's scope, the nesting and size limits, and
// cycles by model; and the lineage parent is resolved and frozen to `name@v<N>` the same way.
import { badRequest, forbidden } from '../domain/errors.js';
import { parseReference } from '../domain/names.js';
import type { RegistryReader } from '../domain/state.js';
import { assertComponentNames, walkClosure, type StackLimits } from '../domain/stack.js';
import type { ComponentPin, FileEntry, Lineage, Version } from '../domain/types.js';

/** The version `name@ref` names now, or undefined. */
export function findByReference(state: RegistryReader, name: string, ref: string): Version | undefined {
  const parsed = parseReference(`${name}@${ref}`).parsed;
  if (parsed.kind === 'version') return state.getVersion(name, parsed.version);
  if (parsed.kind === 'digest') return state.getVersionByDigest(name, parsed.digest);
  const pointer = state.getAlias(name, parsed.alias);
  return pointer ? state.getVersion(name, pointer.version) : undefined;
}

/**
 * Resolves each component reference to the version it names now. Every refusal is a 4xx that
 * names the component: a bad or unresolvable reference, a model the caller may not read, a
 * reference back to the stack's own model (directly or through the component's own components),
 * or a closure deeper or larger than the limits.
 */
export function freezeComponents(
  state: RegistryReader,
  stackName: string,
  refs: Record<string, string>,
  files: readonly FileEntry[],
  canRead: (model: string) => boolean,
  limits: StackLimits,
): Record<string, ComponentPin> {
  const names = Object.keys(refs).sort();
  assertComponentNames(names, files);
  const lookup = (n: string, v: number) => state.getVersion(n, v);
  const pins: Record<string, ComponentPin> = {};
  let total = 0;
  for (const component of names) {
    const text = refs[component]!;
    let parsed: ReturnType<typeof parseReference>;
    try {
      parsed = parseReference(text);
    } catch (err) {
      throw badRequest('COMPONENT_INVALID', `component "${component}": ${(err as Error).message}`, { component });
    }
    if (!canRead(parsed.name)) {
      throw forbidden('COMPONENT_FORBIDDEN', `component "${component}": this token may not read ${parsed.name}`, { component });
    }
    const version = findByReference(state, parsed.name, parsed.ref);
    if (!version) throw badRequest('COMPONENT_NOT_FOUND', `component "${component}": ${text} does not resolve to a version`, { component });
    if (version.status === 'retired') {
      throw badRequest('COMPONENT_RETIRED', `component "${component}": ${version.name}@v${version.version} is retired`, { component });
    }
    const closure = walkClosure(version, lookup);
    const models = [version.name, ...closure.map((e) => e.version.name)];
    if (models.includes(stackName)) {
      const through = version.name === stackName ? '' : ` through ${version.name}@v${version.version}`;
      throw badRequest(
        'COMPONENT_CYCLE',
        `component "${component}": a stack of ${stackName} cannot include ${stackName} itself${through}`,
        {
          component,
        },
      );
    }
    const depth = 1 + closure.reduce((d, e) => Math.max(d, e.path.length), 0);
    if (depth > limits.maxDepth) {
      throw badRequest('STACK_TOO_DEEP', `component "${component}" nests ${depth} levels; at most ${limits.maxDepth} are allowed`, {
        component,
      });
    }
    total += 1 + closure.length;
    if (total > limits.maxComponents) {
      throw badRequest(
        'STACK_TOO_LARGE',
        `component "${component}" brings the stack to ${total} component versions; at most ${limits.maxComponents} are allowed`,
        { component },
      );
    }
    pins[component] = { name: version.name, version: version.version, digest: version.digest, ref: text };
  }
  return pins;
}

/** The lineage with its parent frozen to `name@v<N>`; a parent that does not resolve is refused. */
export function freezeLineage(state: RegistryReader, lineage: Lineage, canRead: (model: string) => boolean): Lineage {
  if (!lineage.parent) return lineage;
  let parsed: ReturnType<typeof parseReference>;
  try {
    parsed = parseReference(lineage.parent);
  } catch (err) {
    throw badRequest('LINEAGE_INVALID', `lineage.parent: ${(err as Error).message}`, { parent: lineage.parent });
  }
  const version = canRead(parsed.name) ? findByReference(state, parsed.name, parsed.ref) : undefined;
  if (!version)
    throw badRequest('LINEAGE_PARENT_NOT_FOUND', `lineage.parent: ${lineage.parent} does not exist`, { parent: lineage.parent });
  return { ...lineage, parent: `${version.name}@v${version.version}` };
}
