// The governance CLI (push --metadata, show, approve, reject, token, audit, history, deployments,
// gc) run as a child process against a real server, plus the helpers whose edge cases a server
// never shows: lifetimes, times, metadata files, and a server reporting a broken audit chain.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMetadataDocument } from '../src/cli/push/metadata-file.js';
import { formatSpan, parseIsoTime, parseTtl } from '../src/cli/time.js';
import { ok, parseJson, runCli, scratchFolder, writeTree } from './harness/cli.js';
import { sha256Hex } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const scratch = scratchFolder('modelgate-cli-gov-test-');
const freshDir = scratch.fresh;

/** A model directory with the given files. */
async function modelDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = await freshDir(name);
  await writeTree(dir, files);
  return dir;
}

const CARD_HEADINGS = [
  'Intended use',
  'Out-of-scope use',
  'Training data',
  'Evaluation',
  'Known limitations and biases',
  'Monitoring',
  'Contacts',
];

const METADATA_YAML = `# a version record, as a training pipeline would write it
metadata:
  framework: pytorch
  architecture: gbdt-transformer
  parameters: 1234567
lineage:
  datasets:
    - name: tx-2025
      uri: s3://datasets/tx-2025
  code: {repo: "https://git.example/fraud", commit: 9f2c1e7}
  parent: gov/card@v1
  trainingRunId: run-42
metrics:
  auc: {value: 0.931, dataset: holdout-2025, split: test}
  latency_ms: 12.5
card:
  intendedUse: |
    Scoring card transactions for fraud review.
    Not a sole basis for declining a payment.
  outOfScopeUse: Credit decisions.
  trainingData: Card transactions from 2025, EU and US.
  evaluation: Holdout set from the last month of 2025.
  limitations: Under-represents merchants outside the EU and US.
  monitoring: Alert when weekly AUC drops below 0.9.
  contacts: [fraud-ml@example.com, risk-office@example.com]
`;

/** The smallest card that passes the default production gate (intendedUse and limitations). */
const GATE_CARD = JSON.stringify({ card: { intendedUse: 'testing the gate', limitations: 'none known' } });

describe('governance CLI against a real server', () => {
  let server: TestServer;
  let admin: Record<string, string>;
  /** Approver A registers versions; approver B decides on them. */
  let asA: Record<string, string>;
  let asB: Record<string, string>;
  before(async () => {
    server = await startServer();
    admin = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
    asA = { ...admin, MODELGATE_TOKEN: (await createToken(server, 'alice', 'approver')).token };
    asB = { ...admin, MODELGATE_TOKEN: (await createToken(server, 'bob', 'approver')).token };
  });
  after(async () => {
    await server.dispose();
  });

  const cli = (env: Record<string, string>, ...args: string[]) => runCli(args, env);

  test('push --alias to a gated alias: the version is registered, the refusal is reported, exit 1 and no success line', async () => {
    const run = await cli(
      asA,
      'push',
      await modelDir('refused-alias', { 'w.bin': 'refused alias' }),
      'gov/refused',
      '--alias',
      'production',
    );
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '', 'stdout carries no "name@vN sha256:…" line a script would take for success');
    assert.match(run.stderr, /^registered gov\/refused@v1$/m);
    assert.match(run.stderr, /gov\/refused@production was NOT moved to v1: .*POLICY_UNMET, HTTP 403/);
    assert.match(run.stderr, /^ {2}needs 1 approval\(s\)/m);
    // The default promotion path: a version pushed straight to production never held an earlier stage.
    assert.match(run.stderr, /^ {2}must first have held one of @staging, @shadow, @canary$/m);
    const json = await cli(
      asA,
      'push',
      await modelDir('refused-alias', { 'w.bin': 'refused alias' }),
      'gov/refused',
      '--alias',
      'production',
      '--json',
    );
    assert.equal(json.code, 1);
    const result = JSON.parse(json.stdout);
    assert.equal(result.version, 1);
    assert.equal(result.aliasRefused.code, 'POLICY_UNMET');
    assert.equal(result.alias, undefined);
  });

  test('serve --help prints the usage and exits 0 without starting', async () => {
    const run = await runCli(['serve', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^usage: modelgate serve \[--host H\]/);
    assert.match(run.stdout, /--data-dir D/);
  });

  test('approve --record refuses a record that changed since review; retire is final', async () => {
    await writeFile(join(scratch.path, 'gate-record.json'), GATE_CARD);
    ok(
      await cli(
        asA,
        'push',
        await modelDir('record', { 'w.bin': 'record me' }),
        'gov/record',
        '--metadata',
        join(scratch.path, 'gate-record.json'),
      ),
    );
    const reviewed = JSON.parse(ok(await cli(admin, 'show', 'gov/record@v1', '--json')).stdout).recordDigest;
    assert.match(ok(await cli(admin, 'show', 'gov/record@v1')).stdout, new RegExp(`^record\\s+${reviewed}`, 'm'));
    const edit = await fetch(`${server.url}/v1/models/gov/record/versions/1`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${asA.MODELGATE_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ metrics: { auc: 0.5 } }),
    });
    assert.equal(edit.status, 200);
    const stale = await cli(asB, 'approve', 'gov/record', '1', '--record', reviewed);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /RECORD_CHANGED, HTTP 409/);
    const retired = ok(await cli(asB, 'retire', 'gov/record', 'v1', '--reason', 'superseded'));
    assert.match(retired.stdout, /^retired gov\/record@v1 \(seq \d+\)$/m);
    const promote = await cli(asB, 'alias', 'set', 'gov/record@staging', '1');
    assert.equal(promote.code, 1);
    assert.match(promote.stderr, /retired/);
  });

  test('push --metadata (YAML) registers the record; show prints it with the card headings and metrics', async () => {
    const dir = await modelDir('card', { 'weights.bin': 'card weights v2', 'config.json': '{"depth":6}' });
    await writeFile(join(scratch.path, 'record.yaml'), METADATA_YAML);
    ok(await cli(asA, 'push', await modelDir('card-v1', { 'weights.bin': 'card weights v1' }), 'gov/card'));
    const pushed = ok(await cli(asA, 'push', dir, 'gov/card', '--alias', 'staging', '--metadata', join(scratch.path, 'record.yaml')));
    assert.match(pushed.stdout, /^gov\/card@v2 sha256:[0-9a-f]{64}\n$/);
    ok(await cli(asA, 'alias', 'set', 'gov/card@canary', '2'));
    ok(await cli(asA, 'alias', 'set', 'gov/card@shadow', '1'));

    const shown = ok(await cli(admin, 'show', 'gov/card@staging'));
    const out = shown.stdout;
    assert.match(out, /^gov\/card@v2\n/);
    assert.match(out, /^digest\s+sha256:[0-9a-f]{64}$/m);
    assert.match(out, /^status\s+registered$/m);
    assert.match(out, /^created\s+\S+ by alice$/m);
    assert.match(out, /^aliases\s+@canary, @staging$/m, 'the aliases pointing at this version, and only those');
    assert.match(out, /^files\s+2 /m);
    assert.match(out, /^\s+15 B\s+weights\.bin$/m);
    assert.match(out, /^\s+framework\s+pytorch$/m);
    assert.match(out, /^\s+parameters\s+1234567$/m);
    assert.match(out, /^\s+dataset\s+tx-2025\s+s3:\/\/datasets\/tx-2025$/m);
    assert.match(out, /^\s+code\s+https:\/\/git\.example\/fraud @ 9f2c1e7$/m);
    assert.match(out, /^\s+parent\s+gov\/card@v1$/m);
    assert.match(out, /^\s+training run\s+run-42$/m);
    assert.match(out, /^ {2}auc = 0\.931 \(holdout-2025\/test\)$/m);
    assert.match(out, /^ {2}latency_ms = 12\.5$/m);

    // Every heading, in order, each followed by its own text.
    const card = out.slice(out.indexOf('\nmodel card\n'), out.indexOf('\napprovals\n'));
    assert.ok(card.length > 0, out);
    let from = 0;
    for (const heading of CARD_HEADINGS) {
      const at = card.indexOf(`\n  ${heading}\n`, from);
      assert.ok(at >= from, `heading "${heading}" missing or out of order:\n${card}`);
      from = at;
    }
    assert.match(card, /Intended use\n {4}Scoring card transactions for fraud review\.\n {4}Not a sole basis/);
    assert.match(card, /Known limitations and biases\n {4}Under-represents merchants/);
    assert.match(card, /Monitoring\n {4}Alert when weekly AUC drops below 0\.9\./);
    assert.match(card, /Contacts\n {4}fraud-ml@example\.com\n {4}risk-office@example\.com/);
    assert.match(out, /\napprovals\n {2}\(none\)\n$/);

    const json = parseJson(await cli(admin, 'show', 'gov/card@staging', '--json'));
    assert.equal(json.version, 2);
    assert.equal(json.metadata.framework, 'pytorch');
    assert.deepEqual(json.metrics.latency_ms, { value: 12.5 });
    assert.equal(json.card.outOfScopeUse, 'Credit decisions.');
    assert.deepEqual(json.approvals, []);

    // The same reference by number and by digest shows the same version.
    assert.equal(parseJson(await cli(admin, 'show', 'gov/card@v2', '--json')).digest, json.digest);
    assert.equal(parseJson(await cli(admin, 'show', `gov/card@${json.digest}`, '--json')).version, 2);
  });

  test('push --metadata reads JSON, refuses unknown keys and bad fields before uploading anything', async () => {
    const dir = await modelDir('json-meta', { 'w.bin': 'json metadata weights' });
    const file = join(scratch.path, 'record.json');
    await writeFile(file, JSON.stringify({ metrics: { f1: 0.5 }, card: { evaluation: 'by hand' } }));
    const pushed = parseJson(await cli(asA, 'push', dir, 'gov/json-meta', '--metadata', file, '--json'));
    const shown = parseJson(await cli(admin, 'show', `gov/json-meta@v${pushed.version}`, '--json'));
    assert.deepEqual(shown.metrics, { f1: { value: 0.5 } });
    assert.equal(shown.card.evaluation, 'by hand');

    await writeFile(file, JSON.stringify({ metadata: { framework: 'jax' }, cards: {}, owner: 'x' }));
    const unknown = await cli(
      asA,
      'push',
      await modelDir('unknown-key', { 'w.bin': 'never uploaded 1' }),
      'gov/unknown-key',
      '--metadata',
      file,
    );
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown top-level keys "cards", "owner"; allowed: metadata, lineage, metrics, card/);

    await writeFile(join(scratch.path, 'bad.yaml'), 'card:\n  intendedUse: 3\n  contact: someone\n');
    const bad = await cli(
      asA,
      'push',
      await modelDir('bad-field', { 'w.bin': 'never uploaded 2' }),
      'gov/bad-field',
      '--metadata',
      join(scratch.path, 'bad.yaml'),
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /does not fit a registration/);
    assert.match(bad.stderr, /card\.intendedUse: /);
    assert.match(bad.stderr, /card: .*contact/);

    // Refused locally: neither model exists, and the blobs never reached the server.
    for (const name of ['gov/unknown-key', 'gov/bad-field']) {
      const show = await cli(admin, 'show', `${name}@v1`);
      assert.notEqual(show.code, 0);
      assert.match(show.stderr, /MODEL_NOT_FOUND|NOT_FOUND/);
    }
    for (const content of ['never uploaded 1', 'never uploaded 2']) {
      const head = await fetch(`${server.url}/v1/blobs/sha256:${sha256Hex(content)}`, {
        method: 'HEAD',
        headers: { Authorization: `Bearer ${server.token}` },
      });
      assert.equal(head.status, 404, `"${content}" was uploaded`);
    }

    // Pushing already registered files with a different record keeps the version's record, and says so.
    await writeFile(file, JSON.stringify({ metrics: { f1: 0.9 } }));
    const again = await cli(asA, 'push', dir, 'gov/json-meta', '--metadata', file);
    ok(again);
    assert.match(again.stderr, /warning: the metadata file was not applied: gov\/json-meta@v1 .*keeps its own metrics/);
    assert.deepEqual(parseJson(await cli(admin, 'show', 'gov/json-meta@v1', '--json')).metrics, { f1: { value: 0.5 } });
    await writeFile(file, JSON.stringify({ metrics: { f1: 0.5 }, card: { evaluation: 'by hand' } }));
    const same = ok(await cli(asA, 'push', dir, 'gov/json-meta', '--metadata', file));
    assert.doesNotMatch(same.stderr, /warning/);
  });

  test('approval by a second approver opens production; a self-approval fails with SEPARATION_OF_DUTIES', async () => {
    const gateFile = join(scratch.path, 'gate.json');
    await writeFile(gateFile, GATE_CARD);
    // On staging first: the default promotion path takes production only after staging, shadow or canary.
    ok(
      await cli(
        asA,
        'push',
        await modelDir('approve', { 'w.bin': 'approve me' }),
        'gov/approve',
        '--metadata',
        gateFile,
        '--alias',
        'staging',
      ),
    );

    // Without an approval the gate holds, so the later success is the approval's doing.
    const early = await cli(asA, 'alias', 'set', 'gov/approve@production', '1');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /POLICY_UNMET/);

    const self = await cli(asA, 'approve', 'gov/approve', '1', '--comment', 'my own work');
    assert.equal(self.code, 1);
    assert.match(
      self.stderr,
      /^modelgate: alice registered gov\/approve@v1 and cannot also approve it \(SEPARATION_OF_DUTIES, HTTP 403\)$/m,
    );
    assert.doesNotMatch(self.stderr, /\n\s+at /, 'no stack trace');

    const approved = ok(await cli(asB, 'approve', 'gov/approve', 'v1', '--comment', 'reviewed the card'));
    assert.match(approved.stdout, /^approved gov\/approve@v1 as bob \(status approved; seq \d+\)$/m);

    const twice = await cli(asB, 'approve', 'gov/approve', '1');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /ALREADY_DECIDED/);

    const moved = ok(await cli(asA, 'alias', 'set', 'gov/approve@production', '1', '--reason', 'go live'));
    assert.match(moved.stdout, /gov\/approve@production -> v1 \(was unset/);

    const shown = ok(await cli(admin, 'show', 'gov/approve@production')).stdout;
    assert.match(shown, /^status\s+approved$/m);
    assert.match(shown, /^aliases\s+@production, @staging$/m);
    assert.match(shown, /^ {2}approve\s+bob\s+\d{4}-\d\d-\d\dT\S+Z\s+current\s+reviewed the card$/m);
    const json = parseJson(await cli(admin, 'show', 'gov/approve@production', '--json'));
    assert.deepEqual(
      json.approvals.map((a: { decision: string; approver: { name: string }; comment?: string }) => [
        a.decision,
        a.approver.name,
        a.comment,
      ]),
      [['approve', 'bob', 'reviewed the card']],
    );
  });

  test('reject makes a version rejected for good: production refuses it', async () => {
    const gateFile = join(scratch.path, 'gate-reject.json');
    await writeFile(gateFile, GATE_CARD);
    ok(await cli(asA, 'push', await modelDir('reject', { 'w.bin': 'reject me' }), 'gov/reject', '--metadata', gateFile));

    const rejected = ok(await cli(asB, 'reject', 'gov/reject', '1', '--comment', 'leaks labels', '--json'));
    const decision = JSON.parse(rejected.stdout);
    assert.deepEqual(
      [decision.decision, decision.status, decision.comment, decision.approver.name],
      ['reject', 'rejected', 'leaks labels', 'bob'],
    );

    const shown = ok(await cli(admin, 'show', 'gov/reject@v1')).stdout;
    assert.match(shown, /^status\s+rejected$/m);
    assert.match(shown, /^ {2}reject\s+bob\s+\S+\s+current\s+leaks labels$/m);

    // An approval from someone else afterwards is refused: a rejection is final.
    const third = (await createToken(server, 'carol', 'approver')).token;
    const late = await cli({ ...admin, MODELGATE_TOKEN: third }, 'approve', 'gov/reject', '1');
    assert.equal(late.code, 1);
    assert.match(late.stderr, /VERSION_REJECTED, HTTP 409/);
    const promote = await cli(asB, 'alias', 'set', 'gov/reject@production', '1');
    assert.equal(promote.code, 1);
    assert.match(promote.stderr, /POLICY_UNMET/);
    assert.match(promote.stderr, /version is rejected/);
  });

  test('token create, list and revoke round trip; a revoked token fails with exit 1', async () => {
    ok(await cli(admin, 'push', await modelDir('tokens', { 'w.bin': 'token model' }), 'gov/tokens', '--alias', 'staging'));

    const created = ok(await cli(admin, 'token', 'create', '--name', 'ci reader', '--role', 'reader', '--scope', 'gov/*', '--ttl', '12h'));
    const secret = /^ {4}(mgt_([0-9a-f]{12})_\S+)$/m.exec(created.stdout);
    assert.ok(secret, `no secret in:\n${created.stdout}`);
    const [, token, id] = secret;
    assert.match(created.stdout, /^created token [0-9a-f]{12} "ci reader"$/m);
    assert.match(created.stdout, new RegExp(`^created token ${id} `, 'm'));
    assert.match(created.stdout, /^ {2}role\s+reader$/m);
    assert.match(created.stdout, /^ {2}scope\s+gov\/\*$/m);
    assert.match(created.stdout, /shown this once/);
    const expires = Date.parse(/^ {2}expires\s+(\S+)$/m.exec(created.stdout)?.[1] ?? '');
    assert.ok(Math.abs(expires - (Date.now() + 12 * 3600_000)) < 60_000, `12h from now, not ${new Date(expires).toISOString()}`);

    const asReader = { ...admin, MODELGATE_TOKEN: token! };
    assert.equal(parseJson(await cli(asReader, 'resolve', 'gov/tokens@staging', '--json')).version, 1);

    const listed = ok(await cli(admin, 'token', 'list')).stdout;
    assert.match(listed, /^ID\s+NAME\s+ROLE\s+SCOPE\s+CREATED\s+EXPIRES\s+STATUS$/m);
    assert.match(listed, new RegExp(`^${id}\\s+ci reader\\s+reader\\s+gov/\\*\\s+.*\\s+active$`, 'm'));
    assert.doesNotMatch(listed, /mgt_/, 'secrets are never listed');

    const revoked = ok(await cli(admin, 'token', 'revoke', id!));
    assert.match(revoked.stdout, new RegExp(`^revoked token ${id} "ci reader"`));
    const after = parseJson(await cli(admin, 'token', 'list', '--json')).tokens.find((t: { id: string }) => t.id === id);
    assert.ok(after.revokedAt, 'listed as revoked');
    assert.match(ok(await cli(admin, 'token', 'list')).stdout, new RegExp(`^${id}\\s.*revoked \\S+$`, 'm'));

    const refused = await cli(asReader, 'resolve', 'gov/tokens@staging');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNAUTHORIZED/);
    assert.match(refused.stderr, /revoked/);

    // Local checks: a bad role, both lifetimes, and a pasted secret (which would land in a URL).
    assert.equal((await cli(admin, 'token', 'create', '--name', 'x', '--role', 'root')).code, 2);
    assert.equal(
      (await cli(admin, 'token', 'create', '--name', 'x', '--role', 'reader', '--ttl', '1d', '--expires', '2030-01-01T00:00:00Z')).code,
      2,
    );
    const pasted = await cli(admin, 'token', 'revoke', token!);
    assert.equal(pasted.code, 2);
    assert.match(pasted.stderr, new RegExp(`give the token's id \\(${id}\\)`));

    const withExpiry = parseJson(
      await cli(admin, 'token', 'create', '--name', 'dated', '--role', 'writer', '--expires', '2030-01-31T12:00:00Z', '--json'),
    );
    assert.equal(withExpiry.expiresAt, '2030-01-31T12:00:00.000Z');
    assert.match(withExpiry.token, /^mgt_[0-9a-f]{12}_/);

    const notAdmin = await cli(asA, 'token', 'list');
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /FORBIDDEN|HTTP 403/);
  });

  test('audit verify reports an intact chain', async () => {
    const run = ok(await cli(admin, 'audit', 'verify'));
    const m = /^audit log intact: (\d+) entries, head seq (\d+) sha256:[0-9a-f]{64}; (\d+) table rows agree with it$/m.exec(run.stdout);
    assert.ok(m, run.stdout);
    assert.ok(Number(m[3]) > 0, 'the tables were compared with the log');
    assert.ok(Number(m[1]) > 0);
    assert.equal(m[1], m[2]);
    const json = parseJson(await cli(asB, 'audit', 'verify', '--json'));
    assert.equal(json.ok, true);
    assert.equal(json.entries, Number(m[1]));
  });

  test('audit export follows the pages to the end: seqs 1..N, contiguous, to a file or stdout', async () => {
    // Enough entries of its own for several pages, whatever ran before.
    ok(await cli(admin, 'push', await modelDir('export', { 'w.bin': 'export model' }), 'gov/export'));
    for (const alias of ['a', 'b', 'c', 'd', 'e']) ok(await cli(admin, 'alias', 'set', `gov/export@${alias}`, '1'));
    const { entries: total } = parseJson(await cli(admin, 'audit', 'verify', '--json'));
    assert.ok(total >= 6, 'enough entries for several pages');
    const out = join(await freshDir('export'), 'audit.jsonl');
    const summary = parseJson(await cli(admin, 'audit', 'export', '--out', out, '--page-size', '3', '--json'));
    assert.ok(summary.pages >= Math.ceil(total / 3), `followed X-Next-Seq over ${summary.pages} pages`);

    const text = await readFile(out, 'utf8');
    assert.ok(text.endsWith('\n'));
    const seqs = text
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { seq: number }).seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: total }, (_, i) => i + 1),
    );
    assert.deepEqual([summary.entries, summary.firstSeq, summary.lastSeq], [total, 1, total]);
    assert.deepEqual((await readdir(dirname(out))).sort(), ['audit.jsonl'], 'no temporary file left behind');

    const human = ok(await cli(admin, 'audit', 'export', '--out', out, '--page-size', '4'));
    assert.match(human.stderr, new RegExp(`exported ${total} audit entries \\(seq 1\\.\\.${total}\\) to `));

    const toStdout = ok(await cli(admin, 'audit', 'export', '--page-size', '5'));
    assert.equal(toStdout.stdout, text);

    // Filters pass through every page.
    const aliasOnly = ok(await cli(admin, 'audit', 'export', '--action', 'alias', '--page-size', '1'))
      .stdout.trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(aliasOnly.length >= 2);
    assert.ok(aliasOnly.every((e: { action: string }) => e.action.startsWith('alias.')));
    const window = ok(await cli(admin, 'audit', 'export', '--from-seq', '3', '--to-seq', '6', '--page-size', '2'))
      .stdout.trimEnd()
      .split('\n');
    assert.deepEqual(
      window.map((l) => JSON.parse(l).seq),
      [3, 4, 5, 6],
    );
  });

  test('audit list filters by model, actor and action', async () => {
    ok(await cli(asA, 'push', await modelDir('audited', { 'w.bin': 'audited model' }), 'gov/audited', '--alias', 'staging'));
    assert.equal((await cli(asA, 'approve', 'gov/audited', '1')).code, 1);
    ok(await cli(asB, 'approve', 'gov/audited', '1', '--comment', 'fine'));

    const list = ok(await cli(admin, 'audit', 'list', '--model', 'gov/audited'));
    assert.match(list.stdout, /^SEQ\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+DETAILS$/m);
    assert.match(list.stdout, /^\d+\s+\S+\s+alice\s+version\.register\s+gov\/audited@v1\s+\{"digest":"sha256:/m);
    assert.match(
      list.stdout,
      /^\d+\s+\S+\s+alice\s+alias\.set\s+gov\/audited@staging\s+\{"from":null,"to":1,"recordDigest":"sha256:[0-9a-f]+…$/m,
    );
    assert.match(
      list.stdout,
      /^\d+\s+\S+\s+bob\s+version\.approve\s+gov\/audited@v1\s+\{"status":"approved","recordDigest":"sha256:[0-9a-f]+…$/m,
    );
    // The refused self-approval is filed under the model too, so an auditor sees it by model.
    assert.match(
      list.stdout,
      /^\d+\s+\S+\s+alice\s+denied\.approvals\.decide\s+gov\/audited\s+\{"method":"POST","path":"\/v1\/models\/gov\/audited\/versions\/1\/approvals"/m,
    );
    const lines = list.stdout.trimEnd().split('\n').slice(1);
    assert.equal(lines.length, 4, list.stdout);

    const denied = ok(await cli(admin, 'audit', 'list', '--action', 'denied', '--actor', 'alice')).stdout;
    assert.match(denied, /^\d+\s+\S+\s+alice\s+denied\.approvals\.decide\s+gov\/audited\s+.*SEPARATI/m);
    const deniedRows = denied.trimEnd().split('\n').slice(1);
    assert.ok(deniedRows.length >= 1 && deniedRows.every((l) => /^\d+\s+\S+\s+alice\s+denied\./.test(l)), denied);

    const byBob = parseJson(await cli(admin, 'audit', 'list', '--actor', 'bob', '--action', 'version', '--json'));
    assert.ok(byBob.entries.length >= 1);
    assert.ok(
      byBob.entries.every((e: { actor: { name: string }; action: string }) => e.actor.name === 'bob' && e.action.startsWith('version.')),
    );
    const registrations = parseJson(await cli(admin, 'audit', 'list', '--model', 'gov/audited', '--action', 'version.register', '--json'));
    assert.deepEqual(
      registrations.entries.map((e: { action: string; target: string }) => [e.action, e.target]),
      [['version.register', 'gov/audited@v1']],
    );

    const page = await cli(admin, 'audit', 'list', '--limit', '2');
    ok(page);
    assert.equal(page.stdout.trimEnd().split('\n').length, 3);
    assert.match(page.stderr, /more entries may follow from --from-seq 3/);
  });

  test('history shows the timeline, and --at the version an alias pointed at before and after a move', async () => {
    ok(await cli(admin, 'push', await modelDir('hist-1', { 'w.bin': 'history one' }), 'gov/hist'));
    ok(await cli(admin, 'push', await modelDir('hist-2', { 'w.bin': 'history two' }), 'gov/hist'));
    const beforeAll = new Date().toISOString();
    await sleep(30);
    ok(await cli(admin, 'alias', 'set', 'gov/hist@staging', '1'));
    await sleep(30);
    const betweenMoves = new Date().toISOString();
    await sleep(30);
    ok(await cli(asA, 'alias', 'set', 'gov/hist@staging', '2', '--reason', 'better recall'));

    const timeline = ok(await cli(admin, 'history', 'gov/hist@staging')).stdout;
    assert.match(timeline, /^SEQ\s+WHEN\s+ACTION\s+FROM → TO\s+WHO\s+REASON$/m);
    assert.match(timeline, /^\d+\s+\S+Z\s+set\s+- → v1\s+admin$/m);
    assert.match(timeline, /^\d+\s+\S+Z\s+set\s+v1 → v2\s+alice\s+better recall$/m);
    assert.ok(timeline.indexOf('- → v1') < timeline.indexOf('v1 → v2'), 'oldest first');

    const then = ok(await cli(admin, 'history', 'gov/hist@staging', '--at', betweenMoves)).stdout;
    assert.match(
      then,
      new RegExp(`^gov/hist@staging pointed at v1 at ${betweenMoves.replace(/\./g, '\\.')} \\(since \\S+Z, seq \\d+\\)\\n$`),
    );
    const now = ok(await cli(admin, 'history', 'gov/hist@staging', '--at', new Date().toISOString())).stdout;
    assert.match(now, /^gov\/hist@staging pointed at v2 at \S+ \(since \S+Z, seq \d+\)\n$/);
    const earlier = ok(await cli(admin, 'history', 'gov/hist@staging', '--at', beforeAll)).stdout;
    assert.match(earlier, /^gov\/hist@staging pointed at nothing at /);

    const json = parseJson(await cli(admin, 'history', 'gov/hist@staging', '--at', betweenMoves, '--json'));
    assert.equal(json.version, 1);
    const bad = await cli(admin, 'history', 'gov/hist@staging', '--at', 'yesterday');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--at must be an ISO 8601 time/);
  });

  test('deployments lists which version each alias served, from, until (or now), for how long', async () => {
    ok(await cli(admin, 'push', await modelDir('deploy-1', { 'w.bin': 'deploy one' }), 'gov/deploy'));
    const none = ok(await cli(admin, 'deployments', 'gov/deploy'));
    assert.equal(none.stdout, 'gov/deploy has never been deployed to an alias\n');

    ok(await cli(admin, 'push', await modelDir('deploy-2', { 'w.bin': 'deploy two' }), 'gov/deploy'));
    ok(await cli(admin, 'alias', 'set', 'gov/deploy@staging', '1'));
    ok(await cli(admin, 'alias', 'set', 'gov/deploy@canary', '1'));
    await sleep(1100);
    ok(await cli(admin, 'alias', 'set', 'gov/deploy@staging', '2'));

    const run = ok(await cli(admin, 'deployments', 'gov/deploy'));
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ALIAS\s+VERSION\s+FROM\s+UNTIL\s+DURATION$/);
    assert.equal(lines.length, 4, run.stdout);
    // In the order the deployments began.
    const staging1 = /^@staging\s+v1\s+(\S+Z)\s+(\S+Z)\s+(\S+)$/.exec(lines[1]!);
    const canary1 = /^@canary\s+v1\s+(\S+Z)\s+now\s+(\S+)$/.exec(lines[2]!);
    const staging2 = /^@staging\s+v2\s+(\S+Z)\s+now\s+(\S+)$/.exec(lines[3]!);
    assert.ok(staging1 && canary1 && staging2, run.stdout);
    assert.equal(staging1[2], staging2[1], 'v1 served staging until v2 took over');
    const seconds = (Date.parse(staging1[2]!) - Date.parse(staging1[1]!)) / 1000;
    assert.ok(seconds >= 1, `${seconds}`);
    assert.equal(staging1[3], `${Math.round(seconds * 10) / 10}s`, 'a short span reads in seconds');

    const json = parseJson(await cli(admin, 'deployments', 'gov/deploy', '--json'));
    assert.deepEqual(
      json.deployments.map((d: { alias: string; version: number; until: string | null }) => [d.alias, d.version, d.until === null]),
      [
        ['staging', 1, false],
        ['canary', 1, true],
        ['staging', 2, true],
      ],
    );

    const missing = await cli(admin, 'deployments', 'gov/no-such-model');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /MODEL_NOT_FOUND/);
  });

  test('usage errors exit 2', async () => {
    assert.equal((await cli(admin, 'approve', 'gov/any')).code, 2);
    assert.equal((await cli(admin, 'approve', 'gov/any', 'latest')).code, 2);
    assert.equal((await cli(admin, 'token')).code, 2);
    assert.equal((await cli(admin, 'audit', 'purge')).code, 2);
    assert.equal((await cli(admin, 'history', 'gov/any@v1')).code, 2);
    assert.equal((await cli(admin, 'gc', '--force')).code, 2);
    const help = ok(await cli(admin, '--help')).stdout;
    for (const command of ['show', 'approve', 'reject', 'history', 'deployments', 'token', 'audit', 'gc'])
      assert.match(help, new RegExp(`^  ${command} `, 'm'));
  });
});

describe('gc against a server with a short retention', () => {
  let server: TestServer;
  let env: Record<string, string>;
  before(async () => {
    // Retention of ~0.9 s and no grace period.
    server = await startServer({ env: { MODELGATE_RETENTION_DAYS: '0.00001', MODELGATE_GC_GRACE_SECONDS: '0' } });
    env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
  });
  after(async () => {
    await server.dispose();
  });

  test('gc --dry-run reports the old unaliased version and deletes nothing; gc then deletes it', async () => {
    const oldOnly = 'only the old version has these bytes';
    ok(await runCli(['push', await modelDir('gc-1', { 'shared.bin': 'shared', 'old.bin': oldOnly }), 'gc/model'], env));
    ok(await runCli(['push', await modelDir('gc-2', { 'shared.bin': 'shared', 'new.bin': 'new' }), 'gc/model', '--alias', 'staging'], env));
    await sleep(1200);

    const dry = ok(await runCli(['gc', '--dry-run'], env)).stdout;
    assert.match(dry, /^dry run: nothing was deleted$/m);
    assert.match(dry, /^would delete 1 version:\n {2}gc\/model@v1 \(registered \S+Z\)$/m);
    assert.match(dry, new RegExp(`^would remove 1 blob, freeing ${Buffer.byteLength(oldOnly)} B$`, 'm'));
    assert.match(dry, /^ {2}2 blobs still listed by a version$/m);
    ok(await runCli(['show', 'gc/model@v1'], env));
    ok(await runCli(['pull', 'gc/model@v1', await freshDir('gc-pull')], env));

    const real = ok(await runCli(['gc'], env)).stdout;
    assert.match(real, /^deleted 1 version:\n {2}gc\/model@v1 /m);
    assert.match(real, new RegExp(`^removed 1 blob, freed ${Buffer.byteLength(oldOnly)} B$`, 'm'));
    const gone = await runCli(['show', 'gc/model@v1'], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /NOT_FOUND/);
    assert.equal(parseJson(await runCli(['show', 'gc/model@staging', '--json'], env)).version, 2);

    const again = parseJson(await runCli(['gc', '--json'], env));
    assert.deepEqual([again.versions, again.blobs, again.bytes], [[], [], 0]);
    const audit = parseJson(await runCli(['audit', 'list', '--action', 'version.delete', '--json'], env));
    assert.deepEqual(
      audit.entries.map((e: { target: string }) => e.target),
      ['gc/model@v1'],
    );
  });
});

describe('audit verify against a broken chain', () => {
  let fake: Server;
  let url: string;
  const broken = {
    ok: false,
    entries: 16,
    headSeq: 16,
    headHash: `sha256:${'a'.repeat(64)}`,
    firstBad: { seq: 17, reason: 'content does not match its hash' },
  };
  let answer: object = broken;
  before(async () => {
    fake = createServer((req, res) => {
      if (req.url === '/v1/audit/verify') {
        res.writeHead(409, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no' } }));
      }
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => fake.close(() => resolve())));

  test('exits 1 and names the first bad entry', async () => {
    const run = await runCli(['audit', 'verify', '--server', url, '--token', 't']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^modelgate: audit log verification FAILED at seq 17: content does not match its hash$/m);
    assert.match(run.stderr, /entries 1\.\.16 verify/);
    assert.equal(run.stdout, '');
    const json = await runCli(['audit', 'verify', '--server', url, '--token', 't', '--json']);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), broken);
  });

  test('an intact chain with a table row that differs: exits 1 and lists the row with its sequence', async () => {
    const mismatch = {
      seq: 9,
      table: 'aliasEvents',
      key: '["m","production",9]',
      reason: 'alias history row m@production to is 3 in the table but 1 in the log',
    };
    answer = {
      ok: false,
      entries: 20,
      headSeq: 20,
      headHash: `sha256:${'b'.repeat(64)}`,
      firstBad: { seq: 9, reason: `aliasEvents ${mismatch.key}: ${mismatch.reason}` },
      tables: { ok: false, rows: 30, mismatches: [mismatch], total: 1 },
    };
    const run = await runCli(['audit', 'verify', '--server', url, '--token', 't']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /FAILED at seq 9: aliasEvents/);
    assert.match(
      run.stderr,
      /1 table row\(s\) differ from the log:\n {2}seq 9 aliasEvents \["m","production",9\]: alias history row m@production to is 3/,
    );
  });
});

describe('helpers', () => {
  test('token lifetimes', () => {
    assert.equal(parseTtl('30d', 'ttl'), 30 * 86400);
    assert.equal(parseTtl('12h', 'ttl'), 12 * 3600);
    assert.equal(parseTtl('90m', 'ttl'), 5400);
    assert.equal(parseTtl('3600s', 'ttl'), 3600);
    assert.equal(parseTtl('45', 'ttl'), 45);
    for (const bad of ['0', '-1', '1y', '1.5h', '', 'h', '4000d']) assert.throws(() => parseTtl(bad, 'ttl'), /--ttl must be/, bad);
  });

  test('times are ISO 8601 only, normalised to UTC', () => {
    assert.equal(parseIsoTime('2026-01-31T12:00:00Z', 'at'), '2026-01-31T12:00:00.000Z');
    assert.equal(parseIsoTime('2026-01-31T12:00:00+02:00', 'at'), '2026-01-31T10:00:00.000Z');
    assert.equal(parseIsoTime('2026-01-31', 'at'), '2026-01-31T00:00:00.000Z');
    for (const bad of ['yesterday', '31/01/2026', '2026-13-01', '1700000000'])
      assert.throws(() => parseIsoTime(bad, 'at'), /--at must be an ISO 8601 time/, bad);
  });

  test('durations read at a glance', () => {
    assert.equal(formatSpan(0.42), '0.4s');
    assert.equal(formatSpan(42), '42s');
    assert.equal(formatSpan(125), '2m 05s');
    assert.equal(formatSpan(3 * 3600 + 7 * 60 + 5), '3h 07m');
    assert.equal(formatSpan(2 * 86400 + 5 * 3600), '2d 5h');
  });

  test('metadata documents: YAML or JSON, only the record fields', () => {
    assert.deepEqual(parseMetadataDocument('metrics:\n  auc: 0.9\n', 'm.yaml'), { metrics: { auc: 0.9 } });
    assert.deepEqual(parseMetadataDocument('{"card":{"intendedUse":"x"}}', 'm.json'), { card: { intendedUse: 'x' } });
    assert.deepEqual(parseMetadataDocument('', 'empty.yaml'), {});
    assert.throws(() => parseMetadataDocument('files: []\n', 'm.yaml'), /unknown top-level key "files"/);
    assert.throws(() => parseMetadataDocument('- a\n', 'm.yaml'), /must hold a mapping/);
    assert.throws(() => parseMetadataDocument('{"card": ', 'm.json'), /is not valid JSON/);
    assert.throws(() => parseMetadataDocument('a: [', 'm.yaml'), /is not valid YAML/);
    assert.throws(() => parseMetadataDocument('lineage:\n  parent: not-a-ref\n', 'm.yml'), /lineage\.parent: parent must be a reference/);
  });
});
