// The few modelgate API calls the scenarios need to set up state (upload, register, alias),
// over node:http with keep-alive so registering thousands of models stays quick.
import { createReadStream } from 'node:fs';
import http from 'node:http';
import type { Readable } from 'node:stream';

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Names and values in the order and case the server sent them. */
  rawHeaders: string[];
  body: Buffer;
}

/**
 * uWebSockets.js 20.30 parses at most 9 digits of Content-Length and resets the connection above:
 * a body of 1e9 bytes or more has to come chunked (measured; see the upload scenario).
 */
export const UWS_MAX_CONTENT_LENGTH = 1_000_000_000;

export interface FileEntry {
  path: string;
  size: number;
  digest: string;
}

export class Api {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    readonly port: number,
    readonly token: string,
  ) {}

  get authHeader(): string {
    return `Bearer ${this.token}`;
  }

  request(method: string, path: string, opts: { body?: Buffer | Readable; length?: number; json?: unknown } = {}): Promise<ApiResponse> {
    const headers: http.OutgoingHttpHeaders = { authorization: this.authHeader };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      headers['content-type'] = 'application/json';
    }
    if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
    else if (opts.length !== undefined) headers['content-length'] = opts.length;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
        );
        res.once('error', reject);
      });
      req.once('error', reject);
      if (!body) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else body.pipe(req);
    });
  }

  /** Like request, but throws unless the status is the expected one. */
  async expect(status: number, method: string, path: string, opts: Parameters<Api['request']>[2] = {}): Promise<ApiResponse> {
    const res = await this.request(method, path, opts);
    if (res.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    }
    return res;
  }

  uploadBuffer(bytes: Buffer, digestHex: string): Promise<ApiResponse> {
    return this.expect(201, 'POST', `/v1/blobs?digest=sha256:${digestHex}`, { body: bytes });
  }

  /** Setup uploads: chunked at and above UWS_MAX_CONTENT_LENGTH, which uWS refuses as a Content-Length. */
  uploadFile(path: string, size: number, digestHex: string): Promise<ApiResponse> {
    return this.expect(201, 'POST', `/v1/blobs?digest=sha256:${digestHex}`, {
      body: createReadStream(path, { highWaterMark: 1 << 20 }),
      ...(size < UWS_MAX_CONTENT_LENGTH ? { length: size } : {}),
    });
  }

  async registerVersion(name: string, files: FileEntry[]): Promise<number> {
    const res = await this.expect(201, 'POST', `/v1/models/${name}/versions`, { json: { files } });
    return (JSON.parse(res.body.toString('utf8')) as { version: number }).version;
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await this.expect(200, 'PUT', `/v1/models/${name}/aliases/${alias}`, { json: { version } });
  }

  close(): void {
    this.agent.destroy();
  }
}
