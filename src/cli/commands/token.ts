// modelgate token create|list|revoke: token management (admin, scope *). The secret of a new
// token is printed once; the server keeps only its hash.
import type { CreateTokenRequest, Role, TokenInfo } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, runSubcommand, USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { renderTable } from '../table.js';
import { parseIsoTime, parseTtl } from '../time.js';
import { withUserErrors } from '../user-errors.js';

const ROLES: readonly Role[] = ['reader', 'writer', 'approver', 'admin', 'auditor'];

const usage = `usage: modelgate token create --name N --role R [--scope GLOB] [--ttl T | --expires TIME]
       modelgate token list
       modelgate token revoke <id>

Manages access tokens (needs an admin token).

create  makes a token and prints its secret, once; only its hash is kept
  --name N        what the token is for, e.g. ci-pipeline (letters, digits, space, ._@-)
  --role R        reader, writer, approver, admin, or auditor (reads everything in its scope,
                  the audit log included; writes nothing)
  --scope GLOB    models it may touch: *, risk/*, team/model (default *)
  --ttl T         lifetime: 30d, 12h, 90m, 3600s or seconds
  --expires TIME  expiry as ISO 8601, e.g. 2027-01-31T00:00:00Z (a time without a zone is local)
list    every token with its role, scope, expiry and whether it is active
revoke  revokes a token by id; it stops working on the next request

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  return runSubcommand(argv, { create, list, revoke }, usage);
}

async function create(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], {
    name: { type: 'string' },
    role: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string' },
    expires: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.name === undefined) throw new CliError(`--name is required\n\n${usage}`, USAGE_EXIT_CODE);
  if (values.role === undefined) throw new CliError(`--role is required\n\n${usage}`, USAGE_EXIT_CODE);
  if (!(ROLES as readonly string[]).includes(values.role)) {
    throw new CliError(`--role must be one of ${ROLES.join(', ')}, not "${values.role}"`, USAGE_EXIT_CODE);
  }
  if (values.ttl !== undefined && values.expires !== undefined) throw new CliError('give --ttl or --expires, not both', USAGE_EXIT_CODE);
  const request: CreateTokenRequest = { name: values.name, role: values.role as Role };
  if (values.scope !== undefined) request.scope = values.scope;
  if (values.ttl !== undefined) request.ttlSeconds = parseTtl(values.ttl, 'ttl');
  if (values.expires !== undefined) request.expiresAt = parseIsoTime(values.expires, 'expires');

  const client = clientFromOptions(values);
  const created = await withUserErrors(() => client.createToken(request));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(created)}\n`);
    return 0;
  }
  process.stdout.write(
    [
      `created token ${created.id} "${created.name}"`,
      `  role     ${created.role}`,
      `  scope    ${created.scope}`,
      `  expires  ${created.expiresAt ?? 'never'}`,
      '',
      'secret (shown this once; only its hash is kept, so store it now):',
      '',
      `    ${created.token}`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0]);
  if (!parsed) return 0;
  const { values } = parsed;
  const client = clientFromOptions(values);
  const tokens = await withUserErrors(() => client.listTokens());
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ tokens })}\n`);
    return 0;
  }
  if (tokens.length === 0) {
    process.stdout.write('no tokens (the bootstrap admin token is configured, not stored)\n');
    return 0;
  }
  const now = Date.now();
  process.stdout.write(
    renderTable(
      ['ID', 'NAME', 'ROLE', 'SCOPE', 'CREATED', 'EXPIRES', 'STATUS'],
      tokens.map((t) => [t.id, t.name, t.role, t.scope, `${t.createdAt} by ${t.createdBy}`, t.expiresAt ?? 'never', tokenStatus(t, now)]),
    ),
  );
  return 0;
}

async function revoke(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1]);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  // A pasted secret (mgt_<12 hex id>_<secret>) would travel in the URL and into logs: refuse it, naming the id.
  const fromSecret = /^mgt_([0-9a-f]{12})_/.exec(id);
  if (fromSecret) throw new CliError(`give the token's id (${fromSecret[1]}), not its secret`, USAGE_EXIT_CODE);
  const client = clientFromOptions(values);
  const revoked = await withUserErrors(() => client.revokeToken(id));
  process.stdout.write(
    values.json
      ? `${JSON.stringify(revoked)}\n`
      : `revoked token ${revoked.id} "${revoked.name}" (${revoked.role}, scope ${revoked.scope}) at ${revoked.revokedAt}\n`,
  );
  return 0;
}

function tokenStatus(t: TokenInfo, now: number): string {
  if (t.revokedAt) return `revoked ${t.revokedAt}`;
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}
