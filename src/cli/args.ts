// Command-line parsing shared by the client commands: node:util parseArgs with usage errors turned
// into CliErrors (exit 2), and the options every client command takes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli-error.js';

export const USAGE_EXIT_CODE = 2;

const clientOptions = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const clientOptionsHelp = `client options:
  --server URL   modelgate server (default: $MODELGATE_URL, else http://127.0.0.1:8080)
  --token T      bearer token (default: $MODELGATE_TOKEN)
  --json         machine-readable output on stdout
`;

function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    // parseArgs reports unknown options and missing values as TypeErrors with ERR_PARSE_ARGS_* codes.
    if (err instanceof TypeError && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      throw new CliError(err.message, USAGE_EXIT_CODE);
    }
    throw err;
  }
}

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
export type ParsedCommand<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof clientOptions & O; allowPositionals: true; strict: true }>
>;

/**
 * A client command's arguments: the client options plus `extra`, strictly, and `min`..`max`
 * positionals. Returns null when --help asked for the usage, which is then printed.
 */
export function parseCommand<O extends OptionsConfig = Record<never, never>>(
  argv: string[],
  usage: string,
  [min, max]: [number, number],
  extra?: O,
): ParsedCommand<O> | null {
  const options = { ...clientOptions, ...extra } as typeof clientOptions & O;
  const parsed = parseCommandLine({ args: argv, options, allowPositionals: true, strict: true }) as ParsedCommand<O>;
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return null;
  }
  expectPositionals(parsed.positionals, min, max, usage);
  return parsed;
}

/** Exactly `min`..`max` positionals, or a usage error that shows the command's usage line. */
export function expectPositionals(positionals: string[], min: number, max: number, usage: string): void {
  if (positionals.length < min || positionals.length > max) {
    const problem = positionals.length < min ? 'missing arguments' : `unexpected argument "${positionals[max]}"`;
    throw new CliError(`${problem}\n\n${usage}`, USAGE_EXIT_CODE);
  }
}

/** A whole number ≥ min given as an option value. */
export function parseCount(text: string | undefined, option: string, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,9}$/.test(text) || Number(text) < min) {
    throw new CliError(`--${option} must be a whole number of at least ${min}, not "${text}"`, USAGE_EXIT_CODE);
  }
  return Number(text);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** A byte count such as `65536`, `64KiB` or `16M`. */
export function parseByteSize(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  const m = /^([0-9]{1,12})\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new CliError(`--${option} must be a positive byte count such as 65536, 64KiB or 16MiB, not "${text}"`, USAGE_EXIT_CODE);
  }
  return bytes;
}

/** A byte count when the option is given, else undefined. */
export function parseOptionalByteSize(text: string | undefined, option: string): number | undefined {
  return text === undefined ? undefined : parseByteSize(text, option, 0);
}

/** Runs the handler `argv[0]` names (`help`, `-h` and `--help` print the usage). */
export function runSubcommand(
  argv: string[],
  handlers: Record<string, (rest: string[]) => Promise<number>>,
  usage: string,
): Promise<number> {
  const [subcommand, ...rest] = argv;
  if (subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    process.stdout.write(usage);
    return Promise.resolve(0);
  }
  const handler = subcommand !== undefined && Object.hasOwn(handlers, subcommand) ? handlers[subcommand]! : undefined;
  if (!handler) throw unknownSubcommand(subcommand, usage);
  return handler(rest);
}

export function unknownSubcommand(subcommand: string | undefined, usage: string): CliError {
  return new CliError(
    `${subcommand === undefined ? 'missing sub-command' : `unknown sub-command "${subcommand}"`}\n\n${usage}`,
    USAGE_EXIT_CODE,
  );
}

/** `<subcommand> [arguments]`: the two apart, or null once --help (or -h) in its place has printed the usage. */
export function splitSubcommand(argv: string[], usage: string): { sub: string | undefined; rest: string[] } | null {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(usage);
    return null;
  }
  return { sub, rest };
}
