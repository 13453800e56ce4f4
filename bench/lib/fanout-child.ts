// The baseline for rollback propagation: raw Redis pub/sub fan-out. This process PUBLISHes one
// message per round and starts `subscribers` subscriber processes (fanout-subscriber.ts), each
// with its own ioredis connection, as the modelgate nodes each have one. A round's figure is from
// sending PUBLISH until the last subscriber process received the message: the floor for telling
// 8 processes anything through Redis on this machine, with no replica to update and no HTTP.
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { WebSocket } from 'ws';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ownCpuPercent, processCpuSeconds } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { FanoutJob, FanoutOutcome, FanoutRound } from './propagation-protocol.js';

const SUBSCRIBER = fileURLToPath(new URL('./fanout-subscriber.js', import.meta.url));

type SubscriberMessage =
  | { type: 'subscribed'; port?: number }
  | { type: 'received'; round: number; at: string }
  | { type: 'failed'; message: string };

const ms = (ns: bigint) => Number(ns) / 1e6;

async function main(job: FanoutJob, measuring: () => Promise<void>): Promise<FanoutOutcome> {
  const children: ChildProcess[] = [];
  const pub = new Redis(job.redisUrl, { connectionName: 'bench-fanout-pub' });
  let onReceived: ((i: number, round: number, at: bigint) => void) | null = null;
  let failure: Error | null = null;
  const sockets: WebSocket[] = [];
  const agents: http.Agent[] = [];
  try {
    const ports = await Promise.all(
      Array.from({ length: job.subscribers }, (_, i) => {
        const args = [
          job.redisUrl,
          job.channel,
          ...(job.lmdbDir ? [join(job.lmdbDir, `subscriber-${i}`), job.serve ? 'serve' : 'write', String(job.burnMs ?? 0)] : []),
        ];
        const child = fork(SUBSCRIBER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<number | undefined>((resolve, reject) => {
          child.on('message', (m: SubscriberMessage) => {
            if (m.type === 'subscribed') resolve(m.port);
            else if (m.type === 'received') onReceived?.(i, m.round, BigInt(m.at));
            else reject(new Error(`subscriber ${i}: ${m.message}`));
          });
          child.once('exit', (code) => {
            failure ??= new Error(`subscriber ${i} exited (${code})`);
            reject(failure);
          });
        });
      }),
    );

    // Served: on each subscriber's WebSocket message, ask it GET /round at once (again while it
    // still answers an older round); it counts at the answer with this round, on this process's clock.
    if (job.serve) {
      await Promise.all(
        ports.map((port, i) => {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          agents.push(agent);
          const ask = (round: number) => {
            const req = http.get({ host: '127.0.0.1', port, path: '/round', agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.once('end', () => {
                const at = process.hrtime.bigint();
                if (Buffer.concat(chunks).toString() === String(round)) onReceived?.(i, round, at);
                else ask(round);
              });
            });
            req.once('socket', (s) => s.setNoDelay(true));
            req.once('error', (err) => (failure ??= err));
          };
          const ws = new WebSocket(`ws://127.0.0.1:${port}/watch`, { perMessageDeflate: false });
          sockets.push(ws);
          ws.on('message', (data) => ask(Number(data.toString())));
          return new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
        }),
      );
    }

    const round = async (r: number): Promise<FanoutRound> => {
      const received: (bigint | null)[] = new Array(job.subscribers).fill(null);
      let remaining = job.subscribers;
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      onReceived = (i, got, at) => {
        if (got !== r || received[i] !== null) return;
        received[i] = at;
        if (--remaining === 0) done();
      };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`round ${r}: ${remaining} subscribers did not receive within ${job.timeoutMs} ms`)),
          job.timeoutMs,
        );
      });
      try {
        const sent = process.hrtime.bigint();
        await pub.publish(job.channel, String(r));
        const replied = process.hrtime.bigint();
        await Promise.race([all, timeout]);
        if (failure) throw failure;
        const receivedMs = received.map((t) => ms(t! - sent));
        return { round: r, publishReplyMs: ms(replied - sent), receivedMs, allMs: Math.max(...receivedMs) };
      } finally {
        clearTimeout(timer);
        onReceived = null;
      }
    };

    for (let r = 0; r < job.warmupRounds; r++) {
      await round(-1 - r);
      await new Promise((res) => setTimeout(res, job.gapMs));
    }
    await measuring();
    const pids = children.map((c) => c.pid!);
    const subCpuStart = pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const rounds: FanoutRound[] = [];
    for (let r = 0; r < job.rounds; r++) {
      rounds.push(await round(r));
      await new Promise((res) => setTimeout(res, job.gapMs));
    }
    const seconds = ms(process.hrtime.bigint() - start) / 1000;
    const subCpu = pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) - subCpuStart;
    return {
      rounds,
      seconds,
      loadCpuPercent: ownCpuPercent(cpu, seconds),
      subscriberCpuPercent: (subCpu / seconds) * 100,
      subscriberPids: pids,
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    for (const agent of agents) agent.destroy();
    pub.disconnect();
    for (const child of children) {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
    }
  }
}

serveOneJob<FanoutJob>((job) => main(job, () => sendToParent({ type: 'measuring' })));
