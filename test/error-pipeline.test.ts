// The error pipeline (src/http/errors/) on its own: every domain error kind becomes its status,
// domain facts become headers, an internal error leaks nothing, each dialect renders the same
// refusal its own way, and the refusal auditor it is given decides the order of audit and answer.
// Routes reach it through real servers in bad-input, hf, oci, watch and authz-matrix tests; here
// each rule is pinned where it lives, with a recording request standing in for a socket.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthError } from '../src/auth/authenticator.js';
import { BlobStoreFailure } from '../src/blobs/store-failure.js';
import { offsetMismatch } from '../src/blobs/upload-sessions.js';
import { DomainError, type ErrorKind, badRequest, conflict, forbidden, notFound } from '../src/domain/errors.js';
import { v1Dialect } from '../src/http/errors/dialect.js';
import { HfError, hfDialect } from '../src/http/errors/hf-dialect.js';
import { HttpError } from '../src/http/errors/http-error.js';
import { ociDialect, ociError } from '../src/http/errors/oci-dialect.js';
import { ErrorPipeline, type FailingRequest } from '../src/http/errors/pipeline.js';
import { type Refusal, toRefusal } from '../src/http/errors/refusal.js';
import type { RefusedRequest } from '../src/http/errors/refusal-audit.js';

interface Sent {
  status: number;
  body: Buffer | null;
  headers: Record<string, string>;
  reportedLength?: number;
}

class RecordingRequest implements FailingRequest {
  aborted = false;
  finished = false;
  headersSent = false;
  sent: Sent[] = [];
  cuts = 0;
  principal = null;
  model = null;
  constructor(
    readonly method = 'POST',
    readonly authorization = 'Bearer x',
    readonly route = 'test.route',
    readonly path = '/v1/test',
  ) {}
  send(status: number, body: Buffer | null, headers: Record<string, string>, reportedLength?: number): void {
    this.finished = true;
    this.sent.push({ status, body, headers, ...(reportedLength !== undefined ? { reportedLength } : {}) });
  }
  cut(): void {
    this.cuts++;
  }
  json(): unknown {
    return JSON.parse(this.sent[0]!.body!.toString('utf8'));
  }
}

const noAudit = () => undefined;

describe('error pipeline', () => {
  test('each domain error kind maps to one status', () => {
    // Written out by hand, not derived from the table under test.
    const expected: [ErrorKind, number][] = [
      ['invalid', 400],
      ['unauthenticated', 401],
      ['forbidden', 403],
      ['not_found', 404],
      ['not_allowed', 405],
      ['conflict', 409],
      ['too_large', 413],
      ['out_of_range', 416],
      ['dependency_failed', 502],
      ['unavailable', 503],
    ];
    for (const [kind, status] of expected) assert.equal(toRefusal(new DomainError(kind, 'C', 'm')).status, status, kind);
    assert.equal(toRefusal(badRequest('C', 'm')).status, 400);
    assert.equal(toRefusal(notFound('C', 'm')).status, 404);
    assert.equal(toRefusal(conflict('C', 'm')).status, 409);
    assert.equal(toRefusal(forbidden('C', 'm')).status, 403);
  });

  test('an http-level error keeps its own status and headers', () => {
    const r = toRefusal(new HttpError(405, 'METHOD_NOT_ALLOWED', 'no', undefined, { Allow: 'GET, HEAD' }));
    assert.equal(r.status, 405);
    assert.deepEqual(r.headers, { Allow: 'GET, HEAD' });
  });

  test('domain facts become headers: retry later, resume at an offset, the Bearer challenge', () => {
    const transient = toRefusal(new BlobStoreFailure('read', true, Object.assign(new Error('x'), { name: 'SlowDown' })));
    assert.equal(transient.status, 503);
    assert.equal(transient.headers['Retry-After'], '5');
    const refused = toRefusal(new BlobStoreFailure('read', false, Object.assign(new Error('x'), { name: 'AccessDenied' })));
    assert.equal(refused.status, 502);
    assert.equal(refused.headers['Retry-After'], undefined);
    const offset = toRefusal(offsetMismatch(10, 4));
    assert.equal(offset.status, 416);
    assert.deepEqual(offset.headers, { Range: 'bytes=0-9', 'Upload-Offset': '10' });
    assert.deepEqual(toRefusal(offsetMismatch(0, 4)).headers, { Range: 'bytes=0-0', 'Upload-Offset': '0' });
    assert.equal(toRefusal(new AuthError('bad token')).headers['WWW-Authenticate'], 'Bearer realm="modelgate"');
  });

  test('an internal error is a 500 that says nothing of its cause', () => {
    const r = toRefusal(new Error('secret path /etc/x'));
    assert.deepEqual(r, { status: 500, code: 'INTERNAL', message: 'internal error', headers: {}, error: null });
  });

  test('v1 renders {"error":{code,message,details}} as JSON', () => {
    const out = v1Dialect(toRefusal(conflict('TAKEN', 'already there', { at: 1 })), { authorization: '' });
    assert.equal(out.status, 409);
    assert.equal(out.headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(out.body.toString('utf8')), { error: { code: 'TAKEN', message: 'already there', details: { at: 1 } } });
  });

  test('the OCI dialect speaks the spec: mapped codes, detail.modelgate, the version header and the Basic challenge', () => {
    const mapped = ociDialect('blob')(toRefusal(notFound('MODEL_NOT_FOUND', 'no model')), { authorization: '' });
    assert.equal(mapped.status, 404);
    assert.equal(mapped.headers['Docker-Distribution-API-Version'], 'registry/2.0');
    assert.deepEqual(JSON.parse(mapped.body.toString('utf8')), {
      errors: [{ code: 'NAME_UNKNOWN', message: 'no model', detail: { modelgate: 'MODEL_NOT_FOUND' } }],
    });
    const missingBlob = ociDialect('manifest')(
      toRefusal(badRequest('FILES_INVALID', 'bad', [{ path: 'a', problem: 'blob sha256:00 has not been uploaded' }])),
      { authorization: '' },
    );
    assert.equal(missingBlob.status, 400);
    assert.equal(
      (JSON.parse(missingBlob.body.toString('utf8')) as { errors: { code: string }[] }).errors[0]!.code,
      'MANIFEST_BLOB_UNKNOWN',
    );
    const tooBig = ociDialect('manifest')(toRefusal(new DomainError('too_large', 'BODY_TOO_LARGE', 'big')), { authorization: '' });
    assert.equal(tooBig.status, 413);
    assert.equal((JSON.parse(tooBig.body.toString('utf8')) as { errors: { code: string }[] }).errors[0]!.code, 'MANIFEST_INVALID');
    const native = ociDialect('manifest')(toRefusal(ociError(404, 'MANIFEST_UNKNOWN', 'unknown', { name: 'm' })), { authorization: '' });
    assert.deepEqual(JSON.parse(native.body.toString('utf8')), {
      errors: [{ code: 'MANIFEST_UNKNOWN', message: 'unknown', detail: { name: 'm' } }],
    });
    const unauthorized = ociDialect('base')(toRefusal(new AuthError('bad token')), { authorization: '' });
    assert.equal(unauthorized.headers['WWW-Authenticate'], 'Basic realm="modelgate"');
    const internal = ociDialect('base')(toRefusal(new Error('boom')), { authorization: '' });
    assert.equal(internal.status, 500);
    assert.deepEqual(JSON.parse(internal.body.toString('utf8')), { errors: [{ code: 'UNKNOWN', message: 'internal error' }] });
  });

  test('the Hub dialect carries X-Error-Code and X-Error-Message, and maps auth refusals the way huggingface_hub reads them', () => {
    const entry = hfDialect(toRefusal(new HfError(404, 'EntryNotFound', 'no file', { 'X-Repo-Commit': 'abc' })), {
      authorization: 'Bearer t',
    });
    assert.equal(entry.status, 404);
    assert.equal(entry.headers['X-Error-Code'], 'EntryNotFound');
    assert.equal(entry.headers['X-Repo-Commit'], 'abc');
    assert.deepEqual(JSON.parse(entry.body.toString('utf8')), { error: 'no file' });
    const anonymous = hfDialect(toRefusal(new AuthError('missing')), { authorization: '' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['X-Error-Code'], 'RepoNotFound');
    const badToken = hfDialect(toRefusal(new AuthError('revoked')), { authorization: 'Bearer t' });
    assert.equal(badToken.headers['X-Error-Code'], undefined);
    assert.equal(badToken.headers['X-Error-Message'], 'Invalid credentials in Authorization header');
    const scoped = hfDialect(toRefusal(forbidden('FORBIDDEN', 'out of scope')), { authorization: 'Bearer t' });
    assert.equal(scoped.status, 403);
    assert.equal(scoped.headers['X-Error-Code'], 'RepoNotFound');
    const unsafe = hfDialect(toRefusal(notFound('X', 'name \u00e9\n')), { authorization: 'Bearer t' });
    assert.equal(unsafe.headers['X-Error-Message'], 'name ??');
  });

  test('an audited refusal is answered only once the auditor it was given has committed it', async () => {
    let release!: () => void;
    const audited: [RefusedRequest, Refusal][] = [];
    const pipeline = new ErrorPipeline((request, refusal) => {
      audited.push([request, refusal]);
      return new Promise<void>((resolve) => (release = resolve));
    });
    const request = new RecordingRequest('POST');
    const pending = pipeline.fail(request, forbidden('FORBIDDEN', 'no'));
    assert.ok(pending instanceof Promise, 'an audited refusal is answered asynchronously');
    assert.equal(request.sent.length, 0, 'not answered before the audit entry is committed');
    assert.equal(audited[0]![1].code, 'FORBIDDEN');
    release();
    await pending;
    assert.equal(request.sent.length, 1);
    assert.equal(request.sent[0]!.status, 403);
  });

  test('a server failure is not audited; a refusal the auditor declines is answered at once', () => {
    let calls = 0;
    const pipeline = new ErrorPipeline(() => {
      calls++;
      return undefined;
    });
    const failed = new RecordingRequest();
    assert.equal(pipeline.fail(failed, new Error('boom')), undefined);
    assert.equal(calls, 0, 'a 5xx never reaches the auditor');
    assert.equal(failed.sent[0]!.status, 500);
    const refused = new RecordingRequest();
    assert.equal(pipeline.fail(refused, badRequest('BAD', 'no')), undefined);
    assert.equal(calls, 1);
    assert.deepEqual(refused.json(), { error: { code: 'BAD', message: 'no' } });
  });

  test('HEAD gets the headers and the length of the body it would have had', () => {
    const request = new RecordingRequest('HEAD');
    new ErrorPipeline(noAudit).fail(request, notFound('GONE', 'gone'));
    const expected = v1Dialect(toRefusal(notFound('GONE', 'gone')), request).body.length;
    assert.deepEqual(request.sent, [
      { status: 404, body: null, headers: { 'Content-Type': 'application/json' }, reportedLength: expected },
    ]);
  });

  test('once bytes are out an error cuts the connection; an answered or aborted request gets nothing more', () => {
    const pipeline = new ErrorPipeline(noAudit);
    const streaming = new RecordingRequest('GET');
    streaming.headersSent = true;
    pipeline.fail(streaming, new Error('disk went away'));
    assert.equal(streaming.cuts, 1);
    assert.equal(streaming.sent.length, 0);
    const aborted = new RecordingRequest();
    aborted.aborted = true;
    pipeline.fail(aborted, badRequest('X', 'x'));
    const finished = new RecordingRequest();
    finished.finished = true;
    pipeline.fail(finished, badRequest('X', 'x'));
    assert.deepEqual([aborted.sent.length, aborted.cuts, finished.sent.length, finished.cuts], [0, 0, 0, 0]);
  });
});
