// Configuration: defaults file < --config file < MODELGATE_* environment < command-line flags,
// validated once at start with an error that names the offending key and where it came from.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, ENV_KEYS, type Config } from './schema.js';

export class ConfigError extends Error {}

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../../config/default.yaml', import.meta.url));

type Tree = Record<string, unknown>;

/** Maps keyed by names the operator chooses: a later source replaces them whole instead of merging. */
const REPLACED_WHOLE = new Set(['policy.aliases']);

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted key → value, from command-line flags. */
  overrides?: Record<string, string | undefined>;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const origin = new Map<string, string>();
  const tree = readYaml(DEFAULT_CONFIG_PATH);
  if (sources.file) mergeInto(tree, readYaml(sources.file), sources.file, origin, '');

  const env = sources.env ?? process.env;
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setKey(tree, key, value, `environment variable ${name}`, origin);
  }
  for (const [key, value] of Object.entries(sources.overrides ?? {})) {
    if (value !== undefined) setKey(tree, key, value, `command-line flag for ${key}`, origin);
  }

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = 'keys' in issue && Array.isArray(issue.keys) ? issue.keys : [];
    const key = [...issue.path, ...keys].join('.');
    const where = origin.get(key) ?? origin.get(issue.path.join('.')) ?? 'configuration';
    throw new ConfigError(`invalid configuration key "${key}" (from ${where}): ${issue.message}`);
  }
  return result.data;
}

function readYaml(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`configuration file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`configuration file ${path} must hold a mapping at the top level`);
  }
  return parsed as Tree;
}

function mergeInto(target: Tree, source: Tree, from: string, origin: Map<string, string>, prefix: string): void {
  for (const [k, v] of Object.entries(source)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const existing = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && existing && typeof existing === 'object' && !REPLACED_WHOLE.has(key)) {
      mergeInto(existing as Tree, v as Tree, from, origin, key);
    } else {
      target[k] = v;
      origin.set(key, from);
    }
  }
}

function setKey(tree: Tree, dotted: string, value: unknown, from: string, origin: Map<string, string>): void {
  const parts = dotted.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!next || typeof next !== 'object') node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
  origin.set(dotted, from);
}
