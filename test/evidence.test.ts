// Evidence exports through the real service: a version's CycloneDX 1.6 ML-BOM, validated against
// the official JSON schema (shipped in @cyclonedx/cyclonedx-library, checked with its ajv-based
// validator), over HTTP and through `modelgate bom`; and the inventory export as JSON and CSV
// (`modelgate inventory`), limited to the caller's scope. Refusals named: versions outside the
// token's scope, unknown versions, bad formats.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { csvCell, inventoryCsv } from '../src/domain/inventory.js';
import { ok, runCli } from './harness/cli.js';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

const validator = new Validation.JsonValidator(Spec.Version.v1dot6);

async function assertValidBom(text: string): Promise<any> {
  const errors = await validator.validate(text);
  assert.equal(errors, null, `schema errors: ${JSON.stringify(errors, null, 2)}`);
  return JSON.parse(text);
}

const DATASET_DIGEST = sha256('training rows');
const RECORD = {
  metadata: { framework: 'pytorch', architecture: 'gbdt', parameters: 1234 },
  lineage: {
    datasets: [{ name: 'tx-2025', digest: DATASET_DIGEST }, { uri: 's3://datasets/holdout-2025' }],
    code: { repo: 'https://git.example/fraud', commit: '9f2c1e7' },
    trainingRunId: 'run-42',
  },
  metrics: { auc: { value: 0.931, dataset: 'holdout-2025', split: 'test' }, latency_ms: 12.5 },
  card: {
    intendedUse: 'Scoring card transactions for fraud review.',
    limitations: 'Under-represents merchants outside the EU.',
    outOfScopeUse: 'Credit decisions.',
    contacts: ['fraud-ml@example.com'],
  },
};

let server: TestServer;
let approver: { id: string; token: string };
let dir: string;

before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'modelgate-evidence-'));
  approver = await createToken(server, 'evidence-approver', 'approver');
  const model = await api(server, 'POST', '/v1/models', {
    name: 'risk/fraud',
    description: 'Card fraud scorer',
    owner: 'fraud-ml',
    tags: ['pci'],
  });
  assert.equal(model.status, 201, model.text);
  const files = { 'model.bin': 'weights-1', 'config.json': '{"layers":3}' };
  const entries = [];
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    await fetch(`${server.url}/v1/blobs?digest=${sha256(data)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}` },
      body: data,
    });
    entries.push({ path, size: data.length, digest: sha256(data) });
  }
  const registered = await api(server, 'POST', '/v1/models/risk/fraud/versions', { files: entries, ...RECORD });
  assert.equal(registered.status, 201, registered.text);
  await registerFiles(server, 'risk/fraud', { 'model.bin': 'weights-2' });
  const approved = await as(server, approver.token, 'POST', '/v1/models/risk/fraud/versions/1/approvals', {
    decision: 'approve',
    comment: 'validated on holdout',
  });
  assert.equal(approved.status, 201, JSON.stringify(approved.json));
  // The default promotion path: staging before production (staging moves on to v2 below).
  await stage(server, server.token, 'risk/fraud', 1);
  const moved = await as(server, approver.token, 'PUT', '/v1/models/risk/fraud/aliases/production', {
    version: 1,
    reason: 'first release',
  });
  assert.equal(moved.status, 200, JSON.stringify(moved.json));
  assert.equal((await api(server, 'PUT', '/v1/models/risk/fraud/aliases/staging', { version: 2 })).status, 200);
  // A model whose card misses what production requires, and a stack over risk/fraud.
  await registerFiles(server, 'risk/bare', { w: 'bare-1' });
  assert.equal((await api(server, 'PUT', '/v1/models/risk/bare/aliases/canary', { version: 1 })).status, 200);
  const stack = await api(server, 'POST', '/v1/models/risk/app/versions', { components: { scorer: 'risk/fraud@production' } });
  assert.equal(stack.status, 201, stack.text);
  await registerFiles(server, 'other/model', { w: 'elsewhere' });
});

after(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('CycloneDX ML-BOM', () => {
  test('a version with card, metrics, lineage and approvals is a valid CycloneDX 1.6 BOM carrying all of them', async () => {
    const res = await fetch(`${server.url}/v1/models/risk/fraud/versions/1/bom`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.cyclonedx+json; version=1.6');
    const bom = await assertValidBom(await res.text());
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.match(bom.serialNumber, /^urn:uuid:/);
    const model = bom.metadata.component;
    assert.equal(model.type, 'machine-learning-model');
    assert.equal(model['bom-ref'], 'risk/fraud@v1');
    assert.equal(model.description, 'Card fraud scorer');
    assert.deepEqual(model.manufacturer, { name: 'fraud-ml' });
    assert.deepEqual(model.externalReferences, [{ type: 'vcs', url: 'https://git.example/fraud', comment: 'commit 9f2c1e7' }]);

    const files = Object.fromEntries(model.components.map((c: any) => [c.name, c]));
    assert.deepEqual(Object.keys(files).sort(), ['config.json', 'model.bin']);
    assert.equal(files['model.bin'].type, 'file');
    assert.deepEqual(files['model.bin'].hashes, [{ alg: 'SHA-256', content: sha256('weights-1').slice(7) }]);

    const card = model.modelCard;
    assert.deepEqual(card.considerations.useCases, [RECORD.card.intendedUse]);
    assert.deepEqual(card.considerations.technicalLimitations, [RECORD.card.limitations]);
    assert.equal(card.modelParameters.modelArchitecture, 'gbdt');
    assert.deepEqual(card.quantitativeAnalysis.performanceMetrics, [
      { type: 'auc', value: '0.931', slice: 'holdout-2025/test' },
      { type: 'latency_ms', value: '12.5' },
    ]);
    const props = (list: any[]) => Object.fromEntries(list.map((p) => [p.name, p.value]));
    assert.equal(props(card.properties)['modelgate:card:outOfScopeUse'], 'Credit decisions.');

    const datasets = bom.components.filter((c: any) => c.type === 'data');
    assert.equal(datasets.length, 2);
    assert.deepEqual(
      card.modelParameters.datasets.map((d: any) => d.ref),
      datasets.map((d: any) => d['bom-ref']),
    );
    assert.deepEqual(datasets[0].hashes, [{ alg: 'SHA-256', content: DATASET_DIGEST.slice(7) }]);
    assert.equal(datasets[1].data[0].contents.url, 's3://datasets/holdout-2025');

    const p = props(model.properties);
    const version = (await api(server, 'GET', '/v1/models/risk/fraud/versions/1')).json;
    assert.equal(p['modelgate:version-digest'], version.digest);
    assert.equal(p['modelgate:record-digest'], version.recordDigest);
    assert.equal(p['modelgate:status'], 'approved');
    assert.match(p['modelgate:alias'], /^production \(since /);
    assert.match(p['modelgate:decision:approve'], /^evidence-approver at .* on record sha256:[0-9a-f]{64}: validated on holdout$/);
    assert.deepEqual(bom.dependencies, [{ ref: 'risk/fraud@v1', dependsOn: [] }]);
  });

  test("a stack's BOM lists its pinned components as model components it depends on", async () => {
    const res = await api(server, 'GET', '/v1/models/risk/app/versions/1/bom');
    assert.equal(res.status, 200, res.text);
    const bom = await assertValidBom(res.text);
    const component = bom.components.find((c: any) => c['bom-ref'] === 'risk/fraud@v1');
    assert.equal(component.type, 'machine-learning-model');
    assert.ok(component.properties.some((p: any) => p.name === 'modelgate:component-role' && p.value === 'scorer'));
    assert.deepEqual(bom.dependencies[0], { ref: 'risk/app@v1', dependsOn: ['risk/fraud@v1'] });
  });

  test('modelgate bom resolves an alias and writes a valid BOM file', async () => {
    const out = join(dir, 'fraud.cdx.json');
    const run = ok(
      await runCli(['bom', 'risk/fraud@production', '--out', out], { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token }),
    );
    assert.match(run.stderr, /wrote the BOM of risk\/fraud@production/);
    const bom = await assertValidBom(await readFile(out, 'utf8'));
    assert.equal(bom.metadata.component['bom-ref'], 'risk/fraud@v1');
    const stdout = ok(await runCli(['bom', 'risk/fraud@v2'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token })).stdout;
    assert.equal((await assertValidBom(stdout)).metadata.component.version, 'v2');
  });

  test('refused: a version outside the token scope (403), unknown versions (404), other methods (405)', async () => {
    const outsider = await createToken(server, 'bom-outsider', 'reader', 'other/*');
    const denied = await as(server, outsider.token, 'GET', '/v1/models/risk/fraud/versions/1/bom');
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'FORBIDDEN');
    assert.equal((await as(server, outsider.token, 'GET', '/v1/models/other/model/versions/1/bom')).status, 200);
    assert.equal((await api(server, 'GET', '/v1/models/risk/fraud/versions/9/bom')).json.error.code, 'VERSION_NOT_FOUND');
    assert.equal((await api(server, 'GET', '/v1/models/risk/nope/versions/1/bom')).json.error.code, 'MODEL_NOT_FOUND');
    assert.equal((await api(server, 'POST', '/v1/models/risk/fraud/versions/1/bom')).status, 405);
    const cli = await runCli(['bom', 'risk/fraud@v1'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: outsider.token });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /403/);
  });
});

describe('inventory export', () => {
  test('JSON: owner, aliases and versions, approvals with approvers and dates, card completeness, lineage, last change', async () => {
    const res = await api(server, 'GET', '/v1/inventory?prefix=risk/');
    assert.equal(res.status, 200, res.text);
    const rows = Object.fromEntries(res.json.models.map((m: any) => [m.name, m]));
    const fraud = rows['risk/fraud'];
    assert.equal(fraud.owner, 'fraud-ml');
    assert.equal(fraud.versions, 2);
    assert.deepEqual(fraud.statuses, { approved: 1, registered: 1 });
    const production = fraud.aliases.find((a: any) => a.alias === 'production');
    assert.equal(production.version, 1);
    assert.equal(production.protected, true);
    assert.deepEqual(production.missingCardFields, []);
    assert.equal(production.approvals.length, 1);
    assert.equal(production.approvals[0].approver, 'evidence-approver');
    assert.equal(production.approvals[0].decision, 'approve');
    assert.equal(production.approvals[0].onCurrentRecord, true);
    assert.equal(production.signatures, 0);
    assert.deepEqual(fraud.lineage.datasets, ['tx-2025', 's3://datasets/holdout-2025']);
    assert.deepEqual(fraud.lineage.code, ['https://git.example/fraud@9f2c1e7']);
    assert.equal(fraud.lastChange.action, 'alias.set staging');

    const bare = rows['risk/bare'];
    assert.deepEqual(bare.aliases[0].missingCardFields, ['intendedUse', 'limitations'], "judged against the protected aliases' policy");
    assert.equal(rows['other/model'], undefined, 'prefix applied');
  });

  test('scope: a scoped token sees only its models', async () => {
    const outsider = await createToken(server, 'inv-outsider', 'reader', 'other/*');
    const res = await as(server, outsider.token, 'GET', '/v1/inventory');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.json.models.map((m: any) => m.name),
      ['other/model'],
    );
  });

  test('CSV: one quoted line per model, formula-like cells defused; modelgate inventory writes it', async () => {
    const out = join(dir, 'inventory.csv');
    ok(await runCli(['inventory', '--format', 'csv', '--out', out], { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token }));
    const text = await readFile(out, 'utf8');
    const lines = text.trimEnd().split('\r\n');
    assert.equal(
      lines[0],
      'model,owner,description,tags,versions,statuses,latest_version,latest_status,aliases,protected_aliases,card_complete,missing_card_fields,approvals,signed_aliases,datasets,parents,code,last_change_at,last_change_seq,last_change',
    );
    const fraud = lines.find((l) => l.startsWith('risk/fraud,'))!;
    assert.match(
      fraud,
      /^risk\/fraud,fraud-ml,Card fraud scorer,pci,2,approved=1; registered=1,2,registered,production=v1 \(approved\); staging=v2 \(registered\),production,no,staging: intendedUse limitations,v1 approve by evidence-approver at \S+,,tx-2025; s3:\/\/datasets\/holdout-2025,,https:\/\/git\.example\/fraud@9f2c1e7,/,
    );
    // staging (unprotected) holds v2, whose card lacks what production would require: flagged.
    const bare = lines.find((l) => l.startsWith('risk/bare,'))!;
    assert.match(bare, /,no,canary: intendedUse limitations,/);
    assert.equal(lines.length, 1 + 4, 'a line per model');
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('-1+2'), "'-1+2");
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('plain'), 'plain');
    // Two aliases on one version share its one approval: the CSV lists it once, not once per alias.
    const approval = { decision: 'approve' as const, approver: 'risk-officer', at: '2026-01-01T00:00:00.000Z', onCurrentRecord: true };
    const onV1 = (alias: string) => ({
      alias,
      version: 1,
      digest: 'sha256:0',
      status: 'approved' as const,
      since: approval.at,
      protected: alias === 'production',
      missingCardFields: [],
      approvals: [approval],
      signatures: 0,
    });
    const shared = inventoryCsv([
      {
        name: 'app/assistant',
        owner: 'o',
        description: '',
        tags: [],
        createdAt: approval.at,
        versions: 1,
        statuses: { approved: 1 },
        latest: null,
        aliases: [onV1('production'), onV1('staging')],
        lineage: { datasets: [], parents: [], code: [] },
        lastChange: null,
      },
    ]).split('\n')[1]!;
    assert.equal(shared.split('v1 approve by risk-officer').length - 1, 1, shared);
    const json = JSON.parse(ok(await runCli(['inventory'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token })).stdout);
    assert.equal(json.models.length, 4);
  });

  test('refused: an unknown format (400), no token (401); the CLI names a bad --format', async () => {
    const bad = await api(server, 'GET', '/v1/inventory?format=xml');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'FORMAT_INVALID');
    assert.equal((await fetch(`${server.url}/v1/inventory`)).status, 401);
    const cli = await runCli(['inventory', '--format', 'xlsx'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token });
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /--format must be csv or json/);
  });
});
