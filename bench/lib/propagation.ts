// Parent side of the propagation detector and of the Redis fan-out baseline: forks each client
// and measures the servers' CPU (the nodes, Redis) over its measured rounds.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Api, FileEntry } from './api.js';
import { sha256Hex } from './fixtures.js';
import { runChildJob } from './child-job.js';
import { ServerCpuMeters, type ServerCpu } from './cpu.js';
import type { FanoutJob, FanoutOutcome, PropagationJob, PropagationOutcome } from './propagation-protocol.js';

const DETECTOR = fileURLToPath(new URL('./propagation-child.js', import.meta.url));
const FANOUT = fileURLToPath(new URL('./fanout-child.js', import.meta.url));

export type PropagationReport = PropagationOutcome & { serverCpuPercent: ServerCpu };
export type FanoutReport = FanoutOutcome & { serverCpuPercent: ServerCpu };

function runMetered<O>(
  script: string,
  what: string,
  job: object,
  servers: Record<string, number>,
): Promise<O & { serverCpuPercent: ServerCpu }> {
  const meters = new ServerCpuMeters(servers);
  return runChildJob(
    script,
    what,
    job,
    () => meters.start(),
    (outcome: O) => ({ ...outcome, serverCpuPercent: meters.percent() }),
  );
}

export function runPropagation(job: PropagationJob, servers: Record<string, number>): Promise<PropagationReport> {
  return runMetered<PropagationOutcome>(DETECTOR, 'propagation detector', job, servers);
}

export function runFanout(job: FanoutJob, servers: Record<string, number>): Promise<FanoutReport> {
  return runMetered<FanoutOutcome>(FANOUT, 'Redis fan-out baseline', job, servers);
}

/**
 * The propagation fixture: two versions of `model`, each one small file. Blobs are node-local on
 * the fs backend, so each file goes to every node (each can serve what it resolves); both versions
 * are registered through the first node, and `alias` points at the second.
 */
export async function registerTwoVersions(apis: Api[], model: string, alias: string): Promise<{ version: number; digest: string }[]> {
  const versions: { version: number; digest: string }[] = [];
  for (let v = 0; v < 2; v++) {
    const bytes = randomBytes(64 * 1024);
    const hex = sha256Hex(bytes);
    for (const api of apis) await api.uploadBuffer(bytes, hex);
    const files: FileEntry[] = [{ path: 'model.safetensors', size: bytes.length, digest: `sha256:${hex}` }];
    const res = await apis[0]!.expect(201, 'POST', `/v1/models/${model}/versions`, { json: { files } });
    const body = JSON.parse(res.body.toString('utf8')) as { version: number; digest: string };
    versions.push({ version: body.version, digest: body.digest });
  }
  await apis[0]!.setAlias(model, alias, versions[1]!.version);
  return versions;
}
