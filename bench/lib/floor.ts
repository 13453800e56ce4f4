// The floor of a command that must hash what it moves (`pull`, which verifies every byte, and
// `push`, which must know the digest of what it sends), built from parts measured in each round:
// the CPU the plain tool (curl) and the server spent on the same bytes, plus sha256 of as many
// bytes in memory, spread over every core, and never less than the plain tool's own time. No
// client that hashes can finish sooner on this machine; where the floor itself is below the
// target's share of the tool, the target is beyond the machine, and the rows say so.
import { availableParallelism } from 'node:os';
import { type Comparison, type Figure, ratioOf } from '../scenarios/scenario.js';
import { throughputFigure, type TimedRun } from './cli-transfer.js';

const CORES = availableParallelism();

/** One round's floor: the tool's run, the server's CPU for it and the CPU of sha256 of the same bytes. */
export function floorOfRound(tool: TimedRun, serverCpuSeconds: number, hashCpuSeconds: number): TimedRun {
  const cpu = tool.cpuSeconds + serverCpuSeconds + hashCpuSeconds;
  return { seconds: Math.max(tool.seconds, cpu / CORES), cpuSeconds: cpu, stdout: '' };
}

export interface FloorSpec {
  /** The subject row's name; the floor row is `<label>, the floor`. */
  label: string;
  bytes: number;
  /** The command measured (modelgate's) and the plain tool, as figures of the same run. */
  subject: Figure | null;
  tool: Figure | null;
  /** `curl -o`, `curl -T`. */
  toolName: string;
  floors: TimedRun[];
  /** The share of the tool's throughput the command must reach. */
  target: number;
  /** `a verified download`, `a push`: what the floor is the fastest of. */
  what: string;
  /** The server's part, as the note names it: `the server's CPU for it`. */
  serverPart: string;
  /** `any client that verifies`: who cannot beat the floor. */
  client: string;
  /** More figures for the floor row's detail. */
  detail?: Record<string, unknown>;
}

/**
 * The floor row, and the note the subject's row against the tool gets where the target is beyond
 * the machine (undefined where it is not).
 */
export function floorRows(spec: FloorSpec): { floorRow: Comparison; beyondNote: string | undefined } {
  const floor = throughputFigure(spec.bytes, spec.floors, {
    cores: CORES,
    cpuSeconds: spec.floors.map((f) => Number(f.cpuSeconds.toFixed(3))),
    ...spec.detail,
  });
  const floorRatio = ratioOf(floor, spec.tool);
  const beyond = floorRatio !== null && floorRatio < spec.target ? floorRatio : null;
  const tool = spec.toolName;
  return {
    floorRow: {
      name: `${spec.label}, the floor`,
      subject: spec.subject,
      baselineName: `floor on ${CORES} cores`,
      baseline: floor,
      ratio: ratioOf(spec.subject, floor),
      target: 'informational',
      pass: null,
      note:
        `the fastest ${spec.what} of these bytes can be here, built from parts measured in each round: ` +
        `(${tool}'s CPU + ${spec.serverPart} + sha256 of ${spec.bytes / (1024 * 1024)} MiB in memory with node:crypto) / ${CORES} cores, ` +
        `and never less than ${tool}'s own time; median ${floor?.value.toFixed(2)} GB/s = ` +
        `${floorRatio === null ? '?' : floorRatio.toFixed(2)}× ${tool}` +
        (beyond !== null ? `, so ${spec.target}× ${tool} is beyond this machine for ${spec.client}` : ''),
    },
    beyondNote:
      beyond === null
        ? undefined
        : `${spec.target}× ${tool} is beyond this machine: the floor of ${spec.what} (the row below) is ${beyond.toFixed(2)}× ${tool}`,
  };
}
