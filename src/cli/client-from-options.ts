// Building the API client from --server/--token or the MODELGATE_URL/MODELGATE_TOKEN environment.
import { ModelgateClient } from '../client/index.js';
import { CliError } from './cli-error.js';
import { USAGE_EXIT_CODE } from './args.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export interface ClientFlags {
  server?: string;
  token?: string;
}

export function clientFromOptions(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): ModelgateClient {
  const server = flags.server ?? (env.MODELGATE_URL || DEFAULT_SERVER);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`invalid server URL "${server}"`, USAGE_EXIT_CODE);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`server URL must be http:// or https://, not "${server}"`, USAGE_EXIT_CODE);
  }
  if (url.search || url.hash) throw new CliError(`server URL must not have a query or fragment: "${server}"`, USAGE_EXIT_CODE);
  const token = flags.token ?? (env.MODELGATE_TOKEN || undefined);
  // Who this process is in the gateway's fleet view (X-Modelgate-Deployment), if it says.
  const deployment = env.MODELGATE_DEPLOYMENT || undefined;
  return new ModelgateClient({ baseUrl: url.href, token, deployment });
}
