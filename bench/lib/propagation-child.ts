// The rollback propagation detector, in a process of its own so its CPU is its own. It keeps one
// /v1/watch WebSocket and one keep-alive HTTP connection per node. Each round it calls the rollback
// API on one node (rotating), and on each node's change notice immediately asks that node
// GET /v1/resolve/{name}@{alias}; a node counts as converged at the first answer carrying the new
// digest (a stale answer is asked again at once). The watch notice is only the trigger: the figure
// is when the node *serves* the new digest. A node without a notice after `fallbackMs` is polled
// anyway, and counted as a watch miss. Times are wall-clock milliseconds with microsecond
// resolution (performance.timeOrigin + performance.now(): monotonic within this process, and
// comparable with the nodes' MODELGATE_TRACE_FILE stamps, which use the same clock).
import http from 'node:http';
import { WebSocket } from 'ws';
import { ownCpuPercent } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { PropagationJob, PropagationOutcome, PropagationRound } from './propagation-protocol.js';

const now = () => performance.timeOrigin + performance.now();

interface ChangeNotice {
  type: string;
  model?: string;
  alias?: string;
  version?: number | null;
  seq?: number;
}

interface Node {
  index: number;
  port: number;
  agent: http.Agent;
  ws: WebSocket;
}

interface Active {
  onNotice(node: number, notice: ChangeNotice): void;
}

let active: Active | null = null;
let resolveRequests = 0;
let failure: Error | null = null;

function withNoDelay(req: http.ClientRequest): void {
  req.once('socket', (socket) => socket.setNoDelay(true));
}

/** The digest node `n` serves for the reference now, from the X-Model-Digest header, with the time its answer arrived. */
function resolveDigest(node: Node, path: string, token: string): Promise<{ digest: string | null; at: number }> {
  resolveRequests++;
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: node.port, path, headers: { authorization: `Bearer ${token}` }, agent: node.agent },
      (res) => {
        const at = now();
        const digest = res.statusCode === 200 ? String(res.headers['x-model-digest'] ?? '') : null;
        res.resume();
        res.once('end', () => resolve({ digest, at }));
        res.once('error', reject);
      },
    );
    withNoDelay(req);
    req.once('error', reject);
  });
}

function post(node: Node, path: string, token: string, json: unknown): Promise<{ status: number; body: string }> {
  const body = Buffer.from(JSON.stringify(json));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: node.port,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': body.length },
        agent: node.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', reject);
      },
    );
    withNoDelay(req);
    req.once('error', reject);
    req.end(body);
  });
}

function openWatch(index: number, port: number, job: PropagationJob): Promise<Node> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const url = `ws://127.0.0.1:${port}/v1/watch?models=${encodeURIComponent(job.model)}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${job.token}` }, perMessageDeflate: false });
  const node: Node = { index, port, agent, ws };
  return new Promise((resolve, reject) => {
    let ready = false;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as ChangeNotice;
      if (msg.type === 'snapshot' && !ready) {
        ready = true;
        resolve(node);
      } else if (msg.type === 'change') active?.onNotice(index, msg);
    });
    ws.once('error', (err) => (ready ? (failure ??= err) : reject(err)));
    ws.once('close', (code) => {
      if (!ready) reject(new Error(`watch on node ${index} closed (${code}) before its snapshot`));
      else if (!stopping) failure ??= new Error(`watch on node ${index} closed (${code}) mid-run`);
    });
  });
}

let stopping = false;

async function runRound(nodes: Node[], job: PropagationJob, round: number, current: { index: number }): Promise<PropagationRound> {
  const n = nodes.length;
  const writer = round % n;
  const target = job.versions[1 - current.index]!;
  const resolvePath = `/v1/resolve/${job.model}@${job.alias}`;
  const seenAt: (number | null)[] = new Array(n).fill(null);
  const noticeAt: (number | null)[] = new Array(n).fill(null);
  const inFlight: boolean[] = new Array(n).fill(false);
  let seq: number | null = null;
  let staleAnswers = 0;
  let fallbackPolls = 0;
  let remaining = n;
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const converged = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  converged.catch(() => undefined); // a failure before the 200 is thrown from the API call's await instead

  // Asks node i until it answers with the new digest (one request in flight per node).
  const check = (i: number) => {
    if (inFlight[i] || seenAt[i] !== null) return;
    inFlight[i] = true;
    resolveDigest(nodes[i]!, resolvePath, job.token).then(
      ({ digest, at }) => {
        inFlight[i] = false;
        if (digest === target.digest) {
          seenAt[i] = at;
          if (--remaining === 0) finish();
        } else {
          staleAnswers++;
          check(i);
        }
      },
      (err: Error) => fail(err),
    );
  };

  let sentAt = 0;
  active = {
    onNotice(i, notice) {
      if (notice.model !== job.model || notice.alias !== job.alias || notice.version !== target.version) return;
      if (noticeAt[i] === null) noticeAt[i] = now() - sentAt;
      seq ??= notice.seq ?? null;
      check(i);
    },
  };
  const fallback = setTimeout(() => {
    for (let i = 0; i < n; i++) {
      if (noticeAt[i] === null && seenAt[i] === null) {
        fallbackPolls++;
        check(i);
      }
    }
  }, job.fallbackMs);
  const timeout = setTimeout(() => {
    const missing = seenAt.flatMap((t, i) => (t === null ? [i] : []));
    fail(new Error(`round ${round}: nodes ${missing.join(', ')} did not serve ${target.digest} within ${job.timeoutMs} ms`));
  }, job.timeoutMs);

  try {
    sentAt = now();
    const res = await post(nodes[writer]!, `/v1/models/${job.model}/aliases/${job.alias}/rollback`, job.token, {
      toVersion: target.version,
      reason: `bench round ${round}`,
    });
    const okAt = now();
    if (res.status !== 200) throw new Error(`rollback on node ${writer}: ${res.status} ${res.body.slice(0, 300)}`);
    await converged;
    if (failure) throw failure;
    current.index = 1 - current.index;
    const fromOk = seenAt.map((t) => t! - okAt);
    return {
      round,
      seq,
      sentAtUnixMs: sentAt,
      writer,
      toVersion: target.version,
      apiMs: okAt - sentAt,
      nodeFrom200Ms: fromOk,
      nodeNoticeMs: noticeAt,
      allFrom200Ms: Math.max(...fromOk),
      allFromSendMs: Math.max(...seenAt.map((t) => t!)) - sentAt,
      staleAnswers,
      fallbackPolls,
    };
  } finally {
    clearTimeout(fallback);
    clearTimeout(timeout);
    active = null;
  }
}

async function main(job: PropagationJob, measuring: () => Promise<void>): Promise<PropagationOutcome> {
  const nodes = await Promise.all(job.ports.map((port, i) => openWatch(i, port, job)));
  try {
    const current = { index: job.startIndex };
    for (let r = 0; r < job.warmupRounds; r++) {
      await runRound(nodes, job, r, current);
      await new Promise((res) => setTimeout(res, job.gapMs));
    }
    await measuring();
    resolveRequests = 0;
    const rounds: PropagationRound[] = [];
    const cpu = process.cpuUsage();
    const start = now();
    for (let r = 0; r < job.rounds; r++) {
      rounds.push(await runRound(nodes, job, r, current));
      await new Promise((res) => setTimeout(res, job.gapMs));
    }
    const seconds = (now() - start) / 1000;
    return { rounds, seconds, loadCpuPercent: ownCpuPercent(cpu, seconds), resolveRequests };
  } finally {
    stopping = true;
    for (const node of nodes) {
      node.ws.terminate();
      node.agent.destroy();
    }
  }
}

serveOneJob<PropagationJob>((job) => main(job, () => sendToParent({ type: 'measuring' })));
