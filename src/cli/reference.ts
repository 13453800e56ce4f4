// Local checks of what the user typed, so a typo fails before any bytes move. The server checks
// names again; these rules are the same ones (src/registry/names.ts).
import { isAlias, isModelName } from '../domain/names.js';
import { CliError } from './cli-error.js';
import { USAGE_EXIT_CODE } from './args.js';

export interface ModelReference {
  name: string;
  ref: string;
}

/** `name@ref`; the ref is an alias, `v<N>` or `sha256:<hex>` (the server tells them apart). */
export function parseModelReference(text: string): ModelReference {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) {
    throw new CliError(`expected name@ref (an alias, v<N> or sha256:<hex>), not "${text}"`, USAGE_EXIT_CODE);
  }
  return { name: checkModelName(text.slice(0, at)), ref: text.slice(at + 1) };
}

/** `name@alias`, for commands that move an alias. */
export function parseAliasReference(text: string): { name: string; alias: string } {
  const { name, ref } = parseModelReference(text);
  if (!isAlias(ref)) {
    throw new CliError(`"${ref}" is not an alias name: use [a-z][a-z0-9-]*, and not v<N>`, USAGE_EXIT_CODE);
  }
  return { name, alias: ref };
}

export function checkModelName(name: string): string {
  if (!isModelName(name)) {
    throw new CliError(
      `invalid model name "${name}": use "model" or "team/model", lowercase [a-z0-9] words joined by ".", "_" or "-"`,
      USAGE_EXIT_CODE,
    );
  }
  return name;
}

export function checkAlias(alias: string): string {
  if (!isAlias(alias)) throw new CliError(`invalid alias "${alias}": use [a-z][a-z0-9-]*, and not v<N>`, USAGE_EXIT_CODE);
  return alias;
}

/** A version number written as `7` or `v7`. */
export function parseVersionNumber(text: string, what: string): number {
  const m = /^v?([1-9][0-9]{0,14})$/.exec(text);
  if (!m) throw new CliError(`${what} must be a version number such as 7 or v7, not "${text}"`, USAGE_EXIT_CODE);
  return Number(m[1]);
}
