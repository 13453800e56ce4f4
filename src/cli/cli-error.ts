/** Marks a CliError; a registered symbol, so it is the same in every copy of this module. */
const CLI_ERROR = Symbol.for('modelgate.CliError');

/** An error meant for the person at the terminal: printed without a stack trace. */
export class CliError extends Error {
  readonly [CLI_ERROR] = true;

  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }

  /**
   * A CliError from any copy of this module: the bundled CLI (dist/cli/) runs `serve` from the
   * compiled tree (dist/src/), whose CliError is another class, so `instanceof` misses it.
   */
  static is(value: unknown): value is CliError {
    return value instanceof Error && (value as Partial<Record<typeof CLI_ERROR, boolean>>)[CLI_ERROR] === true;
  }
}
