// A real HTTP webhook receiver for tests: records every request it gets and answers as told (200,
// 500, a redirect, or never). It can be killed (every connection cut, port closed) and brought
// back on the same port, like a receiver process that crashes and restarts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { verifySignature } from '../../src/domain/webhooks.js';

export type Behaviour = 'ok' | 'fail' | 'redirect' | 'hang';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: any;
  /** What this receiver answered (null: it never did). */
  answered: number | null;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = 'ok';
  /** Requests being held open by the `hang` behaviour. */
  readonly hanging = new Set<ServerResponse>();
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  static async start(port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await receiver.listen(port);
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(port = this.port): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Cuts every connection (requests in flight included) and stops listening: a crashed receiver. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.hanging.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The received messages of one event type. */
  ofType(type: string): Received[] {
    return this.received.filter((r) => r.json?.type === type);
  }

  /** Whether every received message carries a valid signature by `secret`. */
  allSignedBy(secret: string): boolean {
    return this.received.every((r) => verifySignature(secret, r, r.body));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: any = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const record: Received = {
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
        json,
        answered: null,
      };
      this.received.push(record);
      const answer = (status: number, headers: Record<string, string> = {}) => {
        record.answered = status;
        res.writeHead(status, headers).end();
      };
      if (this.behaviour === 'ok') answer(204);
      else if (this.behaviour === 'fail') answer(500);
      else if (this.behaviour === 'redirect') answer(302, { Location: 'http://127.0.0.1:1/elsewhere' });
      else {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
      }
    });
  }
}
