// The LLM stack walkthrough from the README, run through the CLI against a real server: push the
// parts, push the stack with --component, pull it (one folder per component, nested, verified,
// shared blobs fetched once), then the incident: which production stacks include the vulnerable
// base model, and roll them back. Plus `lineage` as a tree and as JSON.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ok, parseJson, runCli, scratchFolder, treeDigests, writeTree } from './harness/cli.js';
import { api, sha256Hex } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

let server: TestServer;
const scratch = scratchFolder('modelgate-cli-stacks-');
let env: Record<string, string>;
let approverEnv: Record<string, string>;

before(async () => {
  server = await startServer();
  env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
  approverEnv = { MODELGATE_URL: server.url, MODELGATE_TOKEN: (await createToken(server, 'stack-approver', 'approver')).token };
});
after(async () => {
  await server.dispose();
});

const cli = (args: string[], as = env) => runCli(args, as);

async function dir(label: string, files: Record<string, string>): Promise<string> {
  const path = join(scratch.path, label);
  await mkdir(path, { recursive: true });
  await writeTree(path, files);
  return path;
}

const card = ['--metadata'];

test('push --component, pull of a nested stack, impact of a vulnerable base, rollback, lineage', async () => {
  const cardFile = join(scratch.path, 'card.yaml');
  await writeTree(scratch.path, { 'card.yaml': 'card:\n  intendedUse: support answers\n  limitations: English only\n' });
  const push = async (label: string, files: Record<string, string>, name: string, extra: string[] = []) =>
    parseJson(await cli(['push', await dir(label, files), name, ...card, cardFile, '--json', ...extra]));
  const approve = async (name: string, v: number) => ok(await cli(['approve', name, String(v)], approverEnv));

  // The parts: a base model (two versions), a LoRA adapter fine-tuned from base v1, an embedding model and an index.
  const tokenizer = '{"vocab": ["a", "b"]}';
  // Each base version and each assistant goes to staging first: the default promotion path takes
  // production only after staging, shadow or canary.
  await push('base-1', { 'model.safetensors': 'llama weights v1', 'tokenizer.json': tokenizer }, 'llm/llama-3-8b', ['--alias', 'staging']);
  await push('base-2', { 'model.safetensors': 'llama weights v2', 'tokenizer.json': tokenizer }, 'llm/llama-3-8b', ['--alias', 'staging']);
  const lineageFile = join(scratch.path, 'lora.yaml');
  await writeTree(scratch.path, {
    'lora.yaml':
      'lineage:\n  parent: llm/llama-3-8b@v1\n  datasets:\n    - name: tickets\n      uri: s3://data/tickets-2026\ncard:\n  intendedUse: support\n  limitations: English only\n',
  });
  parseJson(
    await cli([
      'push',
      await dir('lora', { 'adapter.safetensors': 'lora weights' }),
      'llm/support-lora',
      '--metadata',
      lineageFile,
      '--json',
    ]),
  );
  await push('embed', { 'model.onnx': 'e5 weights', 'tokenizer.json': tokenizer }, 'llm/e5');
  await push('index', { 'index.faiss': 'vectors' }, 'kb/support-index');
  for (const [name, v] of [
    ['llm/llama-3-8b', 1],
    ['llm/llama-3-8b', 2],
    ['llm/support-lora', 1],
    ['llm/e5', 1],
    ['kb/support-index', 1],
  ] as const) {
    await approve(name, v);
  }
  ok(await cli(['alias', 'set', 'llm/llama-3-8b@production', '1'], approverEnv));

  // A retrieval stack (no files of its own), then the assistant stack with a prompt template.
  const retrieval = await push('retrieval', {}, 'kb/retrieval', [
    '--component',
    'embedding=llm/e5@v1',
    '--component',
    'index=kb/support-index@v1',
  ]);
  assert.deepEqual(Object.keys(retrieval.components).sort(), ['embedding', 'index']);
  await approve('kb/retrieval', 1);
  const assistant = await push('assistant-1', { 'prompt.txt': 'You answer support tickets.' }, 'app/assistant', [
    '--component',
    'base=llm/llama-3-8b@production',
    '--component',
    'adapter=llm/support-lora@v1',
    '--component',
    'retrieval=kb/retrieval@v1',
    '--alias',
    'staging',
  ]);
  assert.equal(assistant.components.base.version, 1);
  assert.equal(assistant.components.base.ref, 'llm/llama-3-8b@production');
  await approve('app/assistant', 1);
  ok(await cli(['alias', 'set', 'app/assistant@production', '1'], approverEnv));

  // Pull: own files at the top, one folder per component, nested; the tokenizer shared by base and embedding fetched once.
  const target = join(scratch.path, 'pulled');
  const pulled = parseJson(await cli(['pull', 'app/assistant@production', target, '--json']));
  assert.deepEqual(pulled.components, ['adapter', 'base', 'retrieval']);
  assert.deepEqual(await treeDigests(target), {
    'prompt.txt': sha256Hex('You answer support tickets.'),
    'base/model.safetensors': sha256Hex('llama weights v1'),
    'base/tokenizer.json': sha256Hex(tokenizer),
    'adapter/adapter.safetensors': sha256Hex('lora weights'),
    'retrieval/embedding/model.onnx': sha256Hex('e5 weights'),
    'retrieval/embedding/tokenizer.json': sha256Hex(tokenizer),
    'retrieval/index/index.faiss': sha256Hex('vectors'),
  });
  assert.equal(pulled.files, 7);
  assert.equal(pulled.downloaded + pulled.copied, 7);
  const distinct = ['You answer support tickets.', 'llama weights v1', tokenizer, 'lora weights', 'e5 weights', 'vectors'];
  assert.equal(
    pulled.downloadedBytes,
    distinct.reduce((n, t) => n + t.length, 0),
    'the shared tokenizer crossed the network once',
  );
  // resolve and show print the closure and the pins.
  const resolved = ok(await cli(['resolve', 'app/assistant@production'])).stdout;
  assert.match(resolved, /^ {2}retrieval {2}kb\/retrieval@v1 {2}sha256:\S+ {2}approved {2}0 file\(s\), 0 B$/m);
  assert.match(resolved, /^ {4}embedding {2}llm\/e5@v1 {2}sha256:\S+ {2}approved {2}2 file\(s\)/m);
  const shown = ok(await cli(['show', 'app/assistant@v1'])).stdout;
  assert.match(shown, /^ {2}base {2}llm\/llama-3-8b@v1 {2}sha256:[0-9a-f]{64} {2}\(from llm\/llama-3-8b@production\)$/m);
  // Pulling again changes nothing.
  const again = parseJson(await cli(['pull', 'app/assistant@production', target, '--json']));
  assert.equal(again.skipped, 7);

  // A second assistant on base v2 goes to production too.
  ok(await cli(['alias', 'set', 'llm/llama-3-8b@production', '2'], approverEnv));
  const assistant2 = await push('assistant-2', { 'prompt.txt': 'You answer support tickets.' }, 'app/assistant', [
    '--component',
    'base=llm/llama-3-8b@production',
    '--component',
    'adapter=llm/support-lora@v1',
    '--component',
    'retrieval=kb/retrieval@v1',
    '--alias',
    'staging',
  ]);
  assert.equal(assistant2.version, 2);
  assert.equal(assistant2.components.base.version, 2);
  await approve('app/assistant', 2);
  ok(await cli(['alias', 'set', 'app/assistant@production', '2'], approverEnv));

  // The incident: base v2 has a vulnerability. Which production stacks include it?
  const impact = parseJson(await cli(['impact', 'llm/llama-3-8b@v2', '--json']));
  const held = impact.aliases.map((a: { name: string; alias: string; version: number }) => `${a.name}@${a.alias}=v${a.version}`).sort();
  assert.deepEqual(held, [
    'app/assistant@production=v2',
    'app/assistant@staging=v2',
    'llm/llama-3-8b@production=v2',
    'llm/llama-3-8b@staging=v2',
  ]);
  const stack = impact.versions.find((v: { name: string }) => v.name === 'app/assistant');
  assert.deepEqual([stack.relation, stack.via.component, stack.isStack], ['component', 'base', true]);
  // By blob digest too: the weights file of v2.
  const byBlob = parseJson(await cli(['impact', `sha256:${sha256Hex('llama weights v2')}`, '--json']));
  assert.deepEqual(byBlob.versions.map((v: { name: string; version: number }) => `${v.name}@v${v.version}`).sort(), [
    'app/assistant@v2',
    'llm/llama-3-8b@v2',
  ]);
  const text = ok(await cli(['impact', 'llm/llama-3-8b@v2'])).stdout;
  assert.match(text, /app\/assistant@v2\s+stack\s+approved\s+component "base" is llm\/llama-3-8b@v2\s+@production/);

  // Roll them back: each alias in the answer, one call each.
  for (const a of impact.aliases) ok(await cli(['rollback', `${a.name}@${a.alias}`], approverEnv));
  const after = parseJson(await cli(['impact', 'llm/llama-3-8b@v2', '--json']));
  assert.deepEqual(after.aliases, [], 'no alias holds anything built on base v2 any more');
  assert.equal((await api(server, 'GET', '/v1/resolve/app/assistant@production')).json.components.base.version, 1);

  // A dataset URI finds the adapter and every stack above it.
  const byDataset = parseJson(await cli(['impact', 's3://data/tickets-2026', '--json']));
  assert.deepEqual(
    byDataset.versions.map((v: { name: string; version: number; relation: string }) => `${v.name}@v${v.version}:${v.relation}`).sort(),
    ['app/assistant@v1:component', 'app/assistant@v2:component', 'llm/support-lora@v1:dataset'],
  );

  // Lineage of the adapter: made from base v1 and the dataset; used by both assistants.
  const graph = parseJson(await cli(['lineage', 'llm/support-lora@v1', '--json']));
  const edges = graph.edges.map((e: { from: string; to: string; relation: string }) => `${e.from} -${e.relation}-> ${e.to}`).sort();
  assert.deepEqual(edges, [
    'dataset:s3://data/tickets-2026 -dataset-> llm/support-lora@v1',
    'llm/llama-3-8b@v1 -parent-> llm/support-lora@v1',
    'llm/support-lora@v1 -component-> app/assistant@v1',
    'llm/support-lora@v1 -component-> app/assistant@v2',
  ]);
  const drawn = ok(await cli(['lineage', 'app/assistant@v1'])).stdout;
  assert.match(drawn, /^app\/assistant@v1 \(approved\)$/m);
  assert.match(drawn, /← component retrieval: kb\/retrieval@v1/);
  assert.match(drawn, /│?\s+├─ ← component embedding: llm\/e5@v1|└─ ← component embedding: llm\/e5@v1/);
  assert.match(drawn, /← parent: llm\/llama-3-8b@v1/);
});
