// The console's governance and operations pages in a real browser (Debian's headless Chromium
// through playwright-core) against the real gateway: signed checkpoints, a version's approvals
// bound to record digests and its Retire button, and the auditor's read-only view (#13), the fleet (#16), webhooks, a version's BOM and signature status (#17),
// and a stack's component nodes in the lineage graph (#15). Every figure on a page is checked
// against what the API says, and every write made through a page against the server's state.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { verifySignature } from '../src/domain/webhooks.js';
import { type ConsoleSession, launchBrowser, openConsole, waitLive } from './harness/browser.js';
import { seedConsole, XSS, type ConsoleTokens } from './harness/console-fixtures.js';
import { api, registerFiles, sha256, uploadBlob, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { keyPair, signFiles } from './harness/signing.js';
import { as, createToken, stage } from './harness/tokens.js';
import { WebhookReceiver } from './harness/webhook-receiver.js';

const WAIT = 30_000;
const trusted = keyPair();
let dir: string;
let server: TestServer;
let tokens: ConsoleTokens;
let auditor: string;
let browser: Browser;
let receiver: WebhookReceiver;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'console-ops-'));
  const keyFile = join(dir, 'trusted.pub.pem');
  await writeFile(keyFile, trusted.publicPem);
  server = await startServer({
    env: {
      MODELGATE_SIGNING_TRUSTED_KEYS: keyFile,
      // Checkpoints only when the test signs one from the page.
      MODELGATE_CHECKPOINT_INTERVAL_SECONDS: '0',
      MODELGATE_FLEET_FLUSH_MS: '100',
      MODELGATE_FLEET_STRAGGLER_SECONDS: '0',
      MODELGATE_WEBHOOKS_ALLOW_PRIVATE: 'true',
      MODELGATE_WEBHOOKS_RETRY_BASE_MS: '100',
      MODELGATE_WEBHOOKS_RETRY_MAX_SECONDS: '1',
      MODELGATE_WEBHOOKS_POLL_MS: '100',
      // A failing receiver's delivery is given up (failed) after this long; long enough for a first attempt on a loaded machine.
      MODELGATE_WEBHOOKS_MAX_AGE_SECONDS: '10',
    },
  });
  tokens = await seedConsole(server);
  auditor = (await createToken(server, 'aud-auditor', 'auditor', 'team/*')).token;
  receiver = await WebhookReceiver.start();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await receiver?.kill();
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const open = (token: string): Promise<ConsoleSession> => openConsole(browser, server.url, token);

test('checkpoints: an approver signs the chain head from the page; the page shows it, the verdict and the public keys', async () => {
  const { page, problems } = await open(tokens.approver);
  await page.getByRole('link', { name: 'Checkpoints' }).click();
  await page.getByRole('heading', { name: 'Signed checkpoints' }).waitFor();
  await page.getByText('No checkpoint has been signed yet.').waitFor();
  await page.getByRole('button', { name: 'Sign the chain head now' }).click();
  const latest = page.getByTestId('latest-checkpoint');
  await latest.waitFor();

  const listed = await as(server, tokens.approver, 'GET', '/v1/audit/checkpoints');
  const checkpoint = listed.json.latest;
  assert.equal(listed.json.checkpoints.length, 1, 'the button signed one checkpoint');
  const text = (await latest.textContent()) ?? '';
  assert.ok(text.includes(`seq ${checkpoint.seq}`) && text.includes(checkpoint.hash), text);
  assert.ok(text.includes(checkpoint.keyId));
  assert.ok(text.includes(checkpoint.signature));
  assert.ok(text.includes(`--expect-head ${checkpoint.seq}:${checkpoint.hash}`));

  // The verdict is the server's: head and checkpoint tally as GET /v1/audit/verify says.
  const verify = (await as(server, tokens.approver, 'GET', '/v1/audit/verify')).json;
  const status = page.getByTestId('chain-status');
  await status.getByText('Chain verified').waitFor();
  await waitFor(async () => (await page.getByTestId('checkpoint-tally').textContent())?.startsWith('1 verified') ?? false, WAIT, 'tally');
  assert.ok(verify.headSeq > checkpoint.seq, 'taking the checkpoint is itself an entry after the head it signed');
  assert.equal(Number(await page.getByTestId('head-seq').textContent()), verify.headSeq);
  assert.ok(((await status.textContent()) ?? '').includes(verify.headHash));

  // The keys link is the public route, and the page lists the same key.
  const keysHref = await page.getByRole('link', { name: '/.well-known/modelgate/checkpoint-keys' }).getAttribute('href');
  const keys = (await (await fetch(server.url + keysHref)).json()) as { keys: { keyId: string; status: string; publicKey: string }[] };
  assert.equal(keys.keys.length, 1);
  assert.equal(keys.keys[0]!.keyId, checkpoint.keyId);
  const row = page.locator('table.keys tbody tr');
  assert.equal(await row.count(), 1);
  assert.match((await row.textContent()) ?? '', new RegExp(`${checkpoint.keyId}\\s*active`));
  assert.equal(await page.locator('table.checkpoints tbody tr').count(), 1);
  assert.deepEqual(problems, []);
});

test('version page: each approval names the record it approved and whether it is current; an edit in production shows the warning; re-approve; Retire refused verbatim while in use, then retired', async () => {
  const name = 'gov/scorer';
  const card = {
    intendedUse: 'Scoring card transactions for fraud review queues.',
    limitations: 'EU data only.',
  };
  for (const n of [1, 2]) {
    const reg = await as(server, tokens.writer, 'POST', `/v1/models/${name}/versions`, {
      files: [{ path: 'w.bin', size: 8, digest: await uploadBlob(server, Buffer.from(`scorer-${n}`)) }],
      card,
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    assert.equal(
      (await as(server, tokens.approver, 'POST', `/v1/models/${name}/versions/${n}/approvals`, { decision: 'approve' })).status,
      201,
    );
  }
  await stage(server, tokens.writer, name, 1);
  assert.equal((await as(server, tokens.approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 1 })).status, 200);
  const approvedOn = (await as(server, tokens.approver, 'GET', `/v1/models/${name}/versions/1`)).json.recordDigest;
  // A typo fixed in the production card: v1 keeps serving, on a record no approver has approved.
  const edit = await as(server, tokens.writer, 'PATCH', `/v1/models/${name}/versions/1`, {
    card: { ...card, limitations: 'EU data only; not for minors.' },
  });
  assert.equal(edit.status, 200, JSON.stringify(edit.json));
  const edited = (await as(server, tokens.approver, 'GET', `/v1/models/${name}/versions/1`)).json;
  assert.notEqual(edited.recordDigest, approvedOn);
  assert.deepEqual(edited.servingUnapproved.aliases, ['production']);

  // A writer is offered no Retire button.
  const asWriter = await open(tokens.writer);
  await asWriter.page.goto(`${server.url}/ui/models/${name}/v/1`);
  await asWriter.page.getByTestId('record-digest').waitFor();
  assert.equal(await asWriter.page.getByRole('button', { name: 'Retire v1' }).count(), 0);
  await asWriter.page.context().close();

  const { page, problems } = await open(tokens.approver);
  await page.goto(`${server.url}/ui/models/${name}/v/1`);
  await page.getByTestId('record-digest').getByText(edited.recordDigest).waitFor();
  const warning = page.getByTestId('serving-unapproved');
  await warning.waitFor();
  const warned = (await warning.textContent()) ?? '';
  assert.ok(warned.includes('@production') && warned.includes(edited.servingUnapproved.since), warned);
  const first = page.locator('ul.approvals li').first();
  assert.match((await first.textContent()) ?? '', /earlier record: void/);
  assert.equal(await first.locator('code').getAttribute('title'), approvedOn);

  // Retire while production points at it: the server's refusal, word for word; nothing changes.
  await page.getByRole('button', { name: 'Retire v1' }).click();
  const dialog = page.getByRole('dialog', { name: `Retire ${name}@v1` });
  await dialog.getByLabel('Reason (kept in the audit log)').fill('superseded by v2');
  await dialog.getByRole('button', { name: 'Retire v1 for good' }).click();
  const refusal = dialog.getByRole('alert');
  await refusal.waitFor();
  const direct = await as(server, tokens.approver, 'POST', `/v1/models/${name}/versions/1/retire`, { reason: 'probe' });
  assert.equal(direct.status, 409);
  assert.equal(direct.json.error.code, 'VERSION_IN_USE');
  const shown = (await refusal.textContent()) ?? '';
  assert.ok(shown.includes('Retire refused') && shown.includes(direct.json.error.code) && shown.includes(direct.json.error.message), shown);
  assert.equal((await as(server, tokens.approver, 'GET', `/v1/models/${name}/versions/1`)).json.status, edited.status);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });

  // Re-approve the edited record from the page: the new approval is on the current record and the warning goes.
  await page.getByRole('button', { name: 'Approve v1' }).click();
  await page.locator('ul.approvals li').nth(1).getByText('current record').waitFor({ timeout: WAIT });
  await warning.waitFor({ state: 'detached', timeout: WAIT });
  const approvals = (await as(server, tokens.approver, 'GET', `/v1/models/${name}/versions/1/history`)).json.approvals;
  assert.deepEqual(
    approvals.map((a: { recordDigest: string }) => a.recordDigest),
    [approvedOn, edited.recordDigest],
  );

  // Once production has moved on, Retire goes through: final, and the page says so.
  await stage(server, tokens.writer, name, 2);
  assert.equal((await as(server, tokens.approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 2 })).status, 200);
  await page.reload();
  await page.getByRole('button', { name: 'Retire v1' }).click();
  await dialog.getByLabel('Reason (kept in the audit log)').fill('superseded by v2');
  await dialog.getByRole('button', { name: 'Retire v1 for good' }).click();
  await dialog.waitFor({ state: 'detached', timeout: WAIT });
  await page.locator('h1 .status-retired').waitFor({ timeout: WAIT });
  assert.equal(await page.getByRole('button', { name: 'Retire v1' }).count(), 0);
  const after = (await as(server, tokens.approver, 'GET', `/v1/models/${name}/versions/1`)).json;
  assert.equal(after.status, 'retired');
  const entry = (await as(server, tokens.admin, 'GET', `/v1/audit?model=${name}&action=version.retire`)).json.entries;
  assert.equal(entry.length, 1);
  assert.equal(entry[0].details.reason, 'superseded by v2');
  assert.deepEqual(problems, []);
});

test('auditor: sees audit, checkpoints, fleet and versions in its scope, is offered no write, and the server refuses its writes', async () => {
  const { page, problems } = await open(auditor);
  const identity = (await page.getByTestId('identity').textContent()) ?? '';
  assert.match(identity, /auditor/);
  assert.match(identity, /scope team\/\*/);
  await page.getByRole('link', { name: 'Audit', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Checkpoints' }).waitFor();
  await page.getByRole('link', { name: 'Fleet' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Approvals' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Webhooks' }).count(), 0);
  // Its scope only: team/fraud, not risk/churn.
  await page.getByRole('link', { name: 'team/fraud' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'risk/churn' }).count(), 0);

  await page.goto(`${server.url}/ui/models/team/fraud`);
  await page.getByRole('heading', { name: 'Alias timeline' }).waitFor();
  assert.equal(
    await page
      .locator('main button')
      .filter({ hasText: /Roll back|Promote/ })
      .count(),
    0,
  );
  await page.goto(`${server.url}/ui/models/team/fraud/v/3`);
  await page.getByRole('heading', { name: 'Audit entries' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /Approve|Reject/ }).count(), 0);
  await page.getByRole('heading', { name: 'Bill of materials' }).waitFor();

  await page.goto(`${server.url}/ui/audit`);
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await page.getByTestId('verify-result').getByText('Chain verified').waitFor();
  await page.locator('table.audit tbody tr').first().waitFor();
  // Entries of other scopes are there as their place in the chain only (so the chain still checks).
  const rows = await page
    .locator('table.audit tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => ({ redacted: tr.classList.contains('redacted'), target: tr.querySelector('td:nth-child(5)')?.textContent ?? '' })),
    );
  const listed = (await as(server, auditor, 'GET', '/v1/audit?limit=200')).json.entries;
  assert.equal(rows.length, listed.length);
  assert.ok(rows.some((r) => r.redacted) && rows.some((r) => !r.redacted));
  assert.deepEqual(
    rows.filter((r) => !r.redacted).map((r) => r.target),
    listed.filter((e: any) => !e.redacted).map((e: any) => e.target),
  );
  for (const r of rows) assert.ok(!/^(risk|xss)\//.test(r.target), `out of scope: ${r.target}`);
  const text = (await page.locator('main').textContent()) ?? '';
  assert.ok(!text.includes('risk/churn'), 'nothing of risk/churn is shown');

  await page.goto(`${server.url}/ui/checkpoints`);
  await page.getByTestId('chain-status').getByText('Chain verified').waitFor();
  await page.getByTestId('latest-checkpoint').waitFor();
  assert.equal(await page.locator('main button').count(), 0, 'no write button on the checkpoints page');

  // What the console does not offer, the server refuses: the same token's writes from this page.
  const writes = (await page.evaluate(`(async () => {
    const token = sessionStorage.getItem('modelgate.token');
    const call = (method, path, body) => fetch(path, {
      method,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => [r.status, (await r.json()).error?.code]);
    return [
      await call('PUT', '/v1/models/team/fraud/aliases/canary', { version: 1 }),
      await call('POST', '/v1/models/team/fraud/versions/3/approvals', { decision: 'approve' }),
      await call('POST', '/v1/audit/checkpoints', {}),
      await call('GET', '/v1/webhooks'),
    ];
  })()`)) as [number, string][];
  for (const [status] of writes) assert.equal(status, 403, JSON.stringify(writes));
  const canary = await as(server, tokens.reader, 'GET', '/v1/models/team/fraud');
  assert.equal(canary.json.aliases.canary, undefined, 'nothing was written');
  assert.deepEqual(problems, []);
});

test('fleet: instances grouped by version per model, the straggler behind a moved alias, and the observed history', async () => {
  // Two deployments resolve production (v2); production moves to v1; only one of them follows.
  const resolve = (instance: string) =>
    fetch(`${server.url}/v1/resolve/team/fraud@production`, {
      headers: { Authorization: `Bearer ${tokens.reader}`, 'X-Modelgate-Deployment': `scoring/${instance}` },
    }).then((r) => r.text());
  await resolve('pod-a');
  await resolve('pod-b');
  await waitFor(async () => (await api(server, 'GET', '/v1/fleet?model=team/fraud')).json.instances?.length === 2, WAIT, 'fleet of 2');
  const production: number = (await as(server, tokens.reader, 'GET', '/v1/models/team/fraud')).json.aliases.production;
  const target = production === 1 ? 2 : 1;
  await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: target, reason: 'fleet check' });
  await resolve('pod-a');
  await waitFor(
    async () => {
      const view = (await api(server, 'GET', '/v1/fleet?model=team/fraud')).json;
      return view.aliases.find((a: any) => a.alias === 'production')?.stragglers.length === 1;
    },
    WAIT,
    'one straggler',
  );
  const view = (await api(server, 'GET', '/v1/fleet?model=team/fraud')).json;

  const { page, problems } = await open(tokens.reader);
  await page.getByRole('link', { name: 'Fleet' }).click();
  await page.getByRole('heading', { name: 'Fleet', exact: true }).waitFor();
  const row = page.locator('tr[data-fleet-model="team/fraud"]');
  await row.waitFor();
  const rowText = (await row.textContent()) ?? '';
  assert.ok(rowText.includes(`v${target}: 1`) && rowText.includes(`v${production}: 1`), rowText);
  assert.equal(await page.locator('tr[data-fleet-model="risk/churn"]').count(), 0, 'a model no one runs is not listed');

  await row.getByRole('link', { name: 'team/fraud' }).click();
  await page.waitForURL(/\/ui\/fleet\/team\/fraud$/);
  await page.getByRole('heading', { name: 'By version' }).waitFor();
  const groups = await page
    .locator('table.fleet-versions tbody tr')
    .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(
    groups.map((g) => [g[0], g[2], g[3]]),
    view.versions.map((g: any) => [`v${g.version}`, String(g.instances), g.deployments.join(', ')]),
  );
  const prod = page.locator('[data-convergence="production"]');
  assert.match((await prod.locator('h3').textContent()) ?? '', new RegExp(`→ v${target}: 1 behind \\(1 straggler\\)`));
  const straggler = prod.locator('li[data-kind="straggler"]');
  assert.match((await straggler.textContent()) ?? '', new RegExp(`scoring/pod-b still on v${production}`));
  assert.equal(await page.locator('table.instances tbody tr').count(), 2);
  const history = (await api(server, 'GET', '/v1/fleet/history?model=team/fraud')).json.spans;
  assert.equal(await page.locator('table.fleet-history tbody tr').count(), history.length);
  assert.ok(history.length >= 3, 'pod-a on both versions, pod-b on one');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download the history (JSON lines)' }).click(),
  ]);
  const lines = (await readFile((await download.path())!, 'utf8')).trim().split('\n');
  assert.equal(lines.length, history.length);
  assert.equal(JSON.parse(lines[0]!).model, 'team/fraud');

  // The instance list is one server page at a time: with a page size of 1, each instance is on its
  // own page and the console follows the API's nextCursor.
  await page.goto(`${server.url}/ui/fleet/team/fraud?limit=1`);
  await page.getByRole('heading', { name: 'Instances' }).waitFor();
  const instanceRows = () =>
    page.locator('table.instances tbody tr td:first-child').evaluateAll((cells) => cells.map((c) => c.textContent?.trim()));
  const first = await instanceRows();
  assert.equal(first.length, 1);
  assert.equal(await page.getByRole('link', { name: 'First instances' }).count(), 0, 'the first page offers no way back');
  await page.getByRole('link', { name: 'Next instances' }).click();
  await page.waitForURL(/cursor=/);
  await page.getByRole('link', { name: 'First instances' }).waitFor();
  // The link follows the URL at once; the rows follow when the next page has loaded. Polled from
  // the test: waitForFunction evaluates a string, which the console's CSP refuses.
  await waitFor(async () => (await instanceRows())[0] !== first[0], WAIT, 'the second page of instances');
  const second = await instanceRows();
  assert.equal(second.length, 1);
  assert.deepEqual([...first, ...second].sort(), ['scoring/pod-a', 'scoring/pod-b'], 'the two pages hold both instances once each');
  assert.equal(await page.getByRole('link', { name: 'Next instances' }).count(), 0, 'the last page offers no next');
  await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: production, reason: 'back' });

  // Weights a runtime loaded that no version lists: shown to whom the server shows them (an admin
  // or auditor scoped to "*"), and the section is absent for everyone else.
  const report = {
    deployment: 'scoring',
    instance: 'pod-c',
    files: [{ path: 'weights/rogue.bin', digest: sha256('rogue weights'), size: 13 }],
  };
  assert.equal((await as(server, tokens.reader, 'POST', '/v1/fleet/reports', report)).status, 202);
  await waitFor(async () => (await api(server, 'GET', '/v1/fleet/unregistered')).json.artifacts.length === 1, WAIT, 'the artifact');
  await page.goto(`${server.url}/ui/fleet`);
  await page.locator('tr[data-fleet-model="team/fraud"]').waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByRole('heading', { name: 'Unregistered weights' }).count(), 0, 'a reader is not shown them');
  const admin = await open(tokens.admin);
  await admin.page.getByRole('link', { name: 'Fleet' }).click();
  const rogue = admin.page.locator(`tr[data-digest="${sha256('rogue weights')}"]`);
  await rogue.waitFor();
  const cells = await rogue.locator('td').allTextContents();
  assert.deepEqual(cells.slice(1, 5), ['scoring/pod-c', 'weights/rogue.bin', '13 B', '1']);
  assert.deepEqual(problems, []);
  assert.deepEqual(admin.problems, []);
});

test('fleet pages follow the fleet summaries on /v1/watch: a new instance, its count and a newly reported weight appear without a reload', async () => {
  // None of this changes the registry, so only the fleet summaries on /v1/watch can refresh the pages.
  const resolve = (instance: string) =>
    fetch(`${server.url}/v1/resolve/team/fraud@production`, {
      headers: { Authorization: `Bearer ${tokens.reader}`, 'X-Modelgate-Deployment': `scoring/${instance}` },
    }).then((r) => r.text());
  const { page, problems } = await open(tokens.admin);
  await page.goto(`${server.url}/ui/fleet/team/fraud`);
  await page.getByRole('heading', { name: 'Instances' }).waitFor();
  await waitLive(page);
  const instances = () =>
    page.locator('table.instances tbody tr td:first-child').evaluateAll((cells) => cells.map((c) => c.textContent?.trim()));
  assert.ok(!(await instances()).includes('scoring/pod-live'));
  // A reload would drop this mark.
  const mark = () =>
    page.evaluate(() => {
      (globalThis as Record<string, unknown>).fleetMark = true;
    });
  const stillTheSamePage = () => page.evaluate(() => (globalThis as Record<string, unknown>).fleetMark === true);
  await mark();

  await resolve('pod-live');
  await page.locator('table.instances tbody tr', { hasText: 'scoring/pod-live' }).waitFor({ timeout: WAIT });
  assert.ok(await stillTheSamePage(), 'the model page refreshed in place');
  const view = (await api(server, 'GET', '/v1/fleet?model=team/fraud')).json;
  assert.deepEqual((await instances()).sort(), view.instances.map((i: any) => `${i.deployment}/${i.instance}`).sort());

  // The overview: the model's instance count follows, and so does the list of unregistered weights.
  await page.getByRole('link', { name: 'Fleet', exact: true }).first().click();
  const count = page.locator('tr[data-fleet-model="team/fraud"] td:nth-child(2)');
  await count.waitFor();
  assert.equal(await count.textContent(), String(view.instances.length));
  await mark();
  await resolve('pod-live-2');
  // Polled from the test: waitForFunction evaluates a string, which the console's CSP refuses.
  await waitFor(async () => (await count.textContent()) === String(view.instances.length + 1), WAIT, 'the overview to count pod-live-2');
  const digest = sha256('weights reported while the page is open');
  const report = { deployment: 'scoring', instance: 'pod-live', files: [{ path: 'w/late.bin', digest, size: 40 }] };
  assert.equal((await as(server, tokens.reader, 'POST', '/v1/fleet/reports', report)).status, 202);
  await page.locator(`tr[data-digest="${digest}"]`).waitFor({ timeout: WAIT });
  assert.ok(await stillTheSamePage(), 'the overview refreshed in place');
  assert.deepEqual(problems, []);
});

test('webhooks: add shows the secret once, test ping, deliveries with status, attempts, code and latency, redeliver, rotate', async () => {
  const writer = (await open(tokens.writer)).page;
  await writer.getByRole('link', { name: 'Fleet' }).waitFor();
  assert.equal(await writer.getByRole('link', { name: 'Webhooks' }).count(), 0, 'only admins see webhooks');

  const { page, problems } = await open(tokens.admin);
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByText('No webhook is registered.').waitFor();
  // A bad URL is refused with the server's reason and nothing is stored.
  await page.getByLabel('Endpoint URL').fill('ftp://example.com/hook');
  await page.getByLabel('Events').fill('alias.*');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal((await as(server, tokens.admin, 'GET', '/v1/webhooks')).json.webhooks.length, 0);

  await page.getByLabel('Endpoint URL').fill(receiver.url);
  await page.getByLabel('Events').fill('alias.*, version.register');
  await page.getByLabel('Model scope').fill('team/*');
  await page.getByLabel('Description').fill(XSS.img);
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const once = page.getByTestId('secret-once');
  await once.waitFor();
  const secret = await once.getByLabel('Signing secret', { exact: true }).inputValue();
  assert.match(secret, /^whsec_/);
  const listed = (await as(server, tokens.admin, 'GET', '/v1/webhooks')).json.webhooks;
  assert.equal(listed.length, 1);
  const id = listed[0].id;
  assert.deepEqual(listed[0].events, ['alias.*', 'version.register']);
  assert.equal(listed[0].scope, 'team/*');
  const item = page.locator(`li[data-webhook="${id}"]`);
  await item.getByText('No delivery yet.').waitFor();
  // The description is the admin's free text: shown as text, never as markup.
  assert.ok(((await item.textContent()) ?? '').includes(XSS.img));
  assert.equal(await page.locator('main img').count(), 0);
  assert.equal(await page.evaluate('window.__xss ?? 0'), 0);

  // The ping arrives signed with the secret the page showed.
  await item.getByRole('button', { name: 'Send a test ping' }).click();
  await item
    .getByTestId('ping-result')
    .getByText(/Ping delivered: HTTP 2\d\d in \d+ ms/)
    .waitFor();
  const ping = receiver.received.at(-1)!;
  assert.ok(verifySignature(secret, ping, ping.body), 'signed with the shown secret');

  // A change in scope is delivered; the log shows it with its code and latency.
  await as(server, tokens.writer, 'PUT', '/v1/models/team/fraud/aliases/canary', { version: 2, reason: 'webhook check' });
  const first = item.locator('table.deliveries tbody tr').first();
  await first.getByText('delivered').waitFor({ timeout: WAIT });
  const cells = await first.locator('td').allInnerTexts();
  assert.equal(cells[1], 'alias.set');
  assert.equal(cells[3], '1');
  assert.equal(cells[4], String(receiver.received.at(-1)!.answered));
  assert.match(cells[5]!, /^\d+ ms$/);

  // A receiver that fails: retried until the maximum age, then failed with its code.
  receiver.behaviour = 'fail';
  await as(server, tokens.writer, 'PUT', '/v1/models/team/fraud/aliases/canary', { version: 1, reason: 'failing receiver' });
  const failed = item.locator('table.deliveries tbody tr').first();
  await failed.getByText('failed', { exact: true }).waitFor({ timeout: WAIT });
  const failedCells = await failed.locator('td').allInnerTexts();
  assert.equal(failedCells[4], '500');
  assert.ok(Number(failedCells[3]) >= 1);
  const seq = await failed.getAttribute('data-delivery');

  receiver.behaviour = 'ok';
  const before = receiver.received.length;
  await failed.getByRole('button', { name: `Redeliver ${seq}` }).click();
  await item.locator(`tr[data-delivery="${seq}"]`).getByText('delivered').waitFor({ timeout: WAIT });
  assert.ok(receiver.received.slice(before).some((r) => r.json?.data?.seq === Number(seq)));

  // Rotation shows the new secret once; both sign during the grace period.
  await page.getByRole('button', { name: 'I have saved it' }).click();
  await once.waitFor({ state: 'detached' });
  await item.getByRole('button', { name: 'Rotate the secret' }).click();
  await once.waitFor();
  const rotated = await once.getByLabel('Signing secret', { exact: true }).inputValue();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, secret);
  await item.getByText('2 signing secret(s)').waitFor();
  await page.reload();
  await item.waitFor();
  assert.equal(await page.getByTestId('secret-once').count(), 0);
  assert.ok(!(await page.content()).includes(rotated), 'the secret is not shown again');

  page.once('dialog', (d) => d.accept());
  await item.getByRole('button', { name: 'Remove' }).click();
  await page.getByText('No webhook is registered.').waitFor();
  assert.equal((await as(server, tokens.admin, 'GET', '/v1/webhooks')).json.webhooks.length, 0);
  assert.deepEqual(problems, []);
});

test("a version's BOM can be viewed and downloaded, and its signature status names the verifying key", async () => {
  const files = { 'model.bin': 'signed console weights', 'config.json': '{"layers":4}' };
  const v = await registerFiles(server, 'team/signed', files);
  const bundle = await signFiles(
    trusted,
    'signed',
    Object.entries(files).map(([path, c]) => ({ path, size: Buffer.byteLength(c), digest: sha256(c) })),
  );
  const sig = await api(server, 'POST', `/v1/models/team/signed/versions/${v.version}/signatures`, bundle);
  assert.equal(sig.status, 201, JSON.stringify(sig.json));

  const { page, problems } = await open(auditor);
  await page.goto(`${server.url}/ui/models/team/signed/v/${v.version}`);
  const status = page.getByTestId('signature-status');
  await status.getByText(/Signed and verified: 1 signature/).waitFor();
  const row = page.locator(`tr[data-signature="${sig.json.keyId}"]`);
  const rowText = (await row.textContent()) ?? '';
  assert.ok(rowText.includes(sig.json.keyId) && rowText.includes(sig.json.addedBy), rowText);
  assert.match(rowText, /^[0-9a-f]{16}signed/, 'the key, then the model name the signer gave');

  const [bundleFile] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Save bundle' }).click()]);
  assert.deepEqual(JSON.parse(await readFile((await bundleFile.path())!, 'utf8')), bundle);

  const summary = (await page.getByTestId('bom-summary').textContent()) ?? '';
  assert.match(summary, /CycloneDX 1\.6 ML-BOM: 2 file\(s\), 0 dataset\(s\)/);
  await page.getByText('View the BOM').click();
  const shown = JSON.parse((await page.getByTestId('bom-json').textContent()) ?? '');
  assert.equal(shown.bomFormat, 'CycloneDX');
  assert.equal(shown.metadata.component.name, 'team/signed');
  assert.ok(shown.metadata.component.properties.some((p: any) => p.name === 'modelgate:signature' && p.value.includes(sig.json.keyId)));
  const [bom] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the BOM' }).click()]);
  assert.equal(bom.suggestedFilename(), `team_signed-v${v.version}.cdx.json`);
  const saved = JSON.parse(await readFile((await bom.path())!, 'utf8'));
  assert.equal(saved.specVersion, '1.6');
  assert.deepEqual(saved.metadata.component.components.map((c: any) => c.name).sort(), Object.keys(files).sort());

  // An unsigned version says so.
  await page.goto(`${server.url}/ui/models/team/fraud/v/1`);
  await page.getByTestId('signature-status').getByText('Not signed').waitFor();
  assert.match((await page.getByTestId('bom-summary').textContent()) ?? '', /2 dataset\(s\)/);
  assert.deepEqual(problems, []);
});

test("lineage: a stack's component nodes, and the stack above each component", async () => {
  const base = await registerFiles(server, 'team/base', { 'base.safetensors': 'base weights' });
  const adapter = await registerFiles(server, 'team/adapter', { 'adapter.safetensors': 'adapter weights' });
  const prompt = 'You are a careful assistant.';
  const res = await api(server, 'POST', '/v1/models/team/assistant/versions', {
    files: [{ path: 'prompt.txt', size: prompt.length, digest: await uploadBlob(server, Buffer.from(prompt)) }],
    components: { base: `team/base@v${base.version}`, adapter: `team/adapter@v${adapter.version}` },
  });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const stack = res.json;

  const { page, problems } = await open(tokens.reader);
  const titles = () => page.locator('.lineage svg g.node title').allTextContents();
  await page.goto(`${server.url}/ui/models/team/assistant/v/${stack.version}`);
  await page.getByRole('heading', { name: 'Lineage' }).waitFor();
  await waitFor(async () => (await titles()).length === 3, WAIT, 'the stack and its two components');
  assert.deepEqual((await titles()).sort(), [
    `component adapter: team/adapter@v${adapter.version}`,
    `component base: team/base@v${base.version}`,
    `this version: team/assistant@v${stack.version}`,
  ]);
  // Each component node links to its version; from there the stack shows above it.
  await page.locator('.lineage svg a', { hasText: `team/base@v${base.version}` }).click();
  await page.waitForURL(new RegExp(`/ui/models/team/base/v/${base.version}$`));
  await waitFor(
    async () => (await titles()).includes(`stack (as base): team/assistant@v${stack.version}`),
    WAIT,
    'the stack above the base',
  );
  assert.deepEqual(problems, []);
});
