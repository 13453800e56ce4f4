// Stacks: a version that pins other versions as named components (base, adapter, prompt, index…).
// The stack digest, the component names, and the walk over a stack's closure live here, so the
// registration, the gate, resolve, GC and the impact queries all read a stack the same way.
import { createHash } from 'node:crypto';
import { badRequest } from './errors.js';
import type { RegistryReader } from './state.js';
import type { ComponentPin, FileEntry, Version } from './types.js';
import { versionDigest } from './version-digest.js';

/** A component name: one lowercase path segment, so a pull can make it a directory. */
const COMPONENT_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const MAX_DIRECT_COMPONENTS = 64;

export interface StackLimits {
  /** Most levels of nesting below a stack (a stack of flat versions has depth 1). */
  maxDepth: number;
  /** Most component versions in a stack's closure, counting each place one appears. */
  maxComponents: number;
}

export const DEFAULT_STACK_LIMITS: StackLimits = { maxDepth: 8, maxComponents: 256 };

export function isComponentName(name: string): boolean {
  return COMPONENT_NAME.test(name);
}

export function isStack(version: Pick<Version, 'components'>): boolean {
  return version.components !== undefined && Object.keys(version.components).length > 0;
}

/** Component names in a fixed order (UTF-16 code units), so every walk and digest sees them alike. */
export function componentNames(version: Pick<Version, 'components'>): string[] {
  return Object.keys(version.components ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The digest of a version. Without components it is exactly versionDigest(files), the formula
 * Hub commit ids, ETags and OCI digests were built on. With components it is sha256 over the
 * canonical JSON {"components":[{"name","model","digest"}… by name],"files":[…]}: the stack's own
 * file list and every component's model and version digest (which covers that component's own
 * closure), so the same stack registered twice is the same version.
 */
export function stackDigest(
  sortedFiles: readonly FileEntry[],
  components: Record<string, Pick<ComponentPin, 'name' | 'digest'>> | undefined,
): string {
  const names = componentNames({ components: components as Record<string, ComponentPin> | undefined });
  if (names.length === 0) return versionDigest(sortedFiles);
  const canonical = JSON.stringify({
    components: names.map((n) => ({ name: n, model: components![n]!.name, digest: components![n]!.digest })),
    files: sortedFiles.map((f) => ({ path: f.path, size: f.size, digest: f.digest })),
  });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** Refuses a component name a pull could not make a directory of, or one that collides with the stack's own files. */
export function assertComponentNames(names: readonly string[], files: readonly FileEntry[]): void {
  if (names.length > MAX_DIRECT_COMPONENTS) {
    throw badRequest('STACK_TOO_LARGE', `a stack names at most ${MAX_DIRECT_COMPONENTS} components directly, not ${names.length}`);
  }
  const topLevel = new Set(files.map((f) => f.path.split('/')[0]!));
  for (const name of names) {
    if (!isComponentName(name)) {
      throw badRequest('COMPONENT_INVALID', `component name "${name.slice(0, 80)}" is not [a-z][a-z0-9_-]{0,62}`, { component: name });
    }
    if (topLevel.has(name)) {
      throw badRequest(
        'COMPONENT_INVALID',
        `component "${name}" has the name of the stack's own file or folder "${name}": a pull puts each component in a folder of its name`,
        { component: name },
      );
    }
  }
}

/** One place in a stack's closure: the component path from the stack (`index/embedding`) and the version there. */
export interface ClosureEntry {
  path: string[];
  version: Version;
}

/**
 * Every component below `root`, depth first in component-name order, each with its path. A
 * version `lookup` cannot find is reported through `missing` and skipped (it cannot happen while
 * the reverse index keeps components from deletion; the callers that must refuse it do).
 */
export function walkClosure(
  root: Pick<Version, 'components'>,
  lookup: (name: string, version: number) => Version | undefined,
  missing?: (path: string[], pin: ComponentPin) => void,
): ClosureEntry[] {
  const out: ClosureEntry[] = [];
  const visit = (node: Pick<Version, 'components'>, prefix: string[]) => {
    for (const slot of componentNames(node)) {
      const pin = node.components![slot]!;
      const path = [...prefix, slot];
      const version = lookup(pin.name, pin.version);
      if (!version || version.digest !== pin.digest) {
        missing?.(path, pin);
        continue;
      }
      out.push({ path, version });
      visit(version, path);
    }
  };
  visit(root, []);
  return out;
}

/** Levels of nesting below a version: 0 for a flat version, 1 for a stack of flat versions. */
export function stackDepth(version: Pick<Version, 'components'>, lookup: (name: string, version: number) => Version | undefined): number {
  let depth = 0;
  for (const entry of walkClosure(version, lookup)) depth = Math.max(depth, entry.path.length);
  return depth;
}

/** Every stack that includes the version, directly or through other stacks, each once, with the path from it. */
export function stacksAbove(
  state: Pick<RegistryReader, 'stacksContaining'>,
  name: string,
  version: number,
): { name: string; version: number; path: string[] }[] {
  const out: { name: string; version: number; path: string[] }[] = [];
  const seen = new Set<string>();
  const queue: { name: string; version: number; path: string[] }[] = [{ name, version, path: [] }];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const s of state.stacksContaining(at.name, at.version)) {
      const key = `${s.name}@${s.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = { name: s.name, version: s.version, path: [s.component, ...at.path] };
      out.push(entry);
      queue.push(entry);
    }
  }
  return out;
}
