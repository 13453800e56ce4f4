// The console in a real browser: Debian's headless Chromium driven by playwright-core against the
// real gateway. One browser for the whole file; a fresh context (so a fresh sessionStorage) per
// signed-in user.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type ConsoleSession, launchBrowser, openConsole, signIn, waitLive as live } from './harness/browser.js';
import { seedConsole, XSS, type ConsoleTokens } from './harness/console-fixtures.js';
import { startServer, type TestServer } from './harness/server.js';
import { waitFor } from './harness/http.js';
import { as } from './harness/tokens.js';

let server: TestServer;
let tokens: ConsoleTokens;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  server = await startServer();
  tokens = await seedConsole(server);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.dispose();
});

async function open(token: string | null, viewport = { width: 1280, height: 900 }): Promise<ConsoleSession> {
  const session = await openConsole(browser, server.url, token, viewport);
  contexts.push(session.page.context());
  return session;
}

test('signing in: the role and scope are shown, the token is kept only in sessionStorage and never in a URL', async () => {
  const s = await open(null);
  const { page } = s;
  await page.getByLabel('Access token').fill('mgt_000000000000_notavalidtoken');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText('UNAUTHORIZED').waitFor();

  await signIn(page, tokens.scoped);
  const identity = (await page.getByTestId('identity').textContent()) ?? '';
  assert.match(identity, /sam-scoped/);
  assert.match(identity, /reader/);
  assert.match(identity, /scope risk\/\*/);
  assert.equal(await page.evaluate("sessionStorage.getItem('modelgate.token')"), tokens.scoped);
  assert.equal(await page.evaluate('document.cookie'), '');
  assert.equal(await page.getByLabel('Access token').count(), 0, 'the token field is gone');
  assert.ok(!(await page.content()).includes(tokens.scoped), 'the token is not in the page');
  await live(page);
  // A scoped reader sees only the models in its scope.
  await page.getByRole('link', { name: 'risk/churn' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'team/fraud' }).count(), 0);
  for (const url of s.urls) assert.ok(!url.includes(tokens.scoped) && !url.includes(encodeURIComponent(tokens.scoped)), `token in ${url}`);
  assert.ok(
    s.urls.some((u) => u.endsWith('/v1/watch')),
    'the live socket was opened, without a token in its URL',
  );

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Access token').waitFor();
  assert.equal(await page.evaluate("sessionStorage.getItem('modelgate.token')"), null);
  assert.deepEqual(s.problems, []);
});

test('each role sees only what it may do', async () => {
  const reader = (await open(tokens.reader)).page;
  await reader.goto(`${server.url}/ui/models/team/fraud`);
  await reader.getByRole('heading', { name: 'Alias timeline' }).waitFor();
  assert.equal(await reader.getByRole('link', { name: 'Approvals' }).count(), 0);
  assert.equal(await reader.getByRole('link', { name: 'Audit' }).count(), 0);
  assert.equal(await reader.getByRole('button', { name: /Roll back/ }).count(), 0);
  assert.equal(await reader.getByRole('button', { name: 'Promote…' }).count(), 0);
  await reader.goto(`${server.url}/ui/models/team/fraud/v/3`);
  await reader.getByRole('heading', { name: 'Policy status' }).waitFor();
  assert.equal(await reader.getByRole('button', { name: /Approve/ }).count(), 0);

  const writer = (await open(tokens.writer)).page;
  await writer.goto(`${server.url}/ui/models/team/fraud`);
  await writer.getByRole('button', { name: 'Roll back staging' }).waitFor();
  assert.equal(await writer.getByRole('button', { name: 'Roll back production' }).count(), 0, 'production is protected');
  const offered = await writer.locator('#alias-names option').evaluateAll((os) => os.map((o) => o.getAttribute('value')));
  assert.ok(offered.includes('staging') && !offered.includes('production'));

  const approver = (await open(tokens.approver)).page;
  await approver.getByRole('link', { name: 'Approvals' }).waitFor();
  await approver.getByRole('link', { name: 'Audit' }).waitFor();
  await approver.goto(`${server.url}/ui/models/team/fraud`);
  await approver.getByRole('button', { name: 'Roll back production' }).waitFor();
});

test('browsing: inventory search, model page with charts, lineage graph and pull commands, version page with diffs', async () => {
  const { page, problems } = await open(tokens.approver);
  await page.getByLabel('Search').fill('scorer');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/\/ui\/\?q=scorer$/);
  await page.getByRole('link', { name: 'risk/churn' }).waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'team/fraud' }).waitFor();

  await page.getByRole('link', { name: 'team/fraud' }).click();
  await page.waitForURL(/\/ui\/models\/team\/fraud$/);
  await page.getByRole('heading', { name: 'Alias timeline' }).waitFor();
  assert.equal(await page.locator('.chart canvas').count(), 2, 'alias timeline and metrics charts are drawn');
  assert.equal(await page.locator('.u-legend').first().getByText('production').count(), 1);
  // The lineage graph from GET /v1/models/{name}/lineage: this version, its parent chain and what
  // descends from it, two datasets, plus code and training run from the record (7 nodes for any of v1–v3).
  const nodeTitles = async () => page.locator('.lineage svg g.node title').allTextContents();
  await waitFor(
    async () => {
      const t = await nodeTitles();
      return t.length === 7 && t.some((x) => /^parent: team\/fraud@v[12]$/.test(x));
    },
    20_000,
    'the lineage graph with the parent chain',
  );
  await page.getByLabel('Show card, lineage and files of').selectOption('v1');
  // v1 has no parent; v2 was fine-tuned from it.
  await waitFor(
    async () => {
      const t = await nodeTitles();
      return t.includes('derived: team/fraud@v2') && !t.some((x) => x.startsWith('parent:'));
    },
    20_000,
    'the lineage graph of v1',
  );
  const cli = await page.getByRole('textbox', { name: 'modelgate CLI' }).inputValue();
  assert.equal(cli, `MODELGATE_URL=${server.url} npx modelgate pull team/fraud@v1 ./fraud`);
  assert.match(
    await page.getByRole('textbox', { name: 'skopeo' }).inputValue(),
    new RegExp(`docker://127\\.0\\.0\\.1:${server.port}/team/fraud:v1 `),
  );
  assert.match(
    await page.getByRole('textbox', { name: 'huggingface_hub' }).inputValue(),
    /snapshot_download\("team\/fraud", revision="v1"\)/,
  );
  // The curl command works as printed against this server.
  const curl = await page.getByRole('textbox', { name: 'curl' }).inputValue();
  const url = curl.split(' ').at(-1)!;
  const file = await fetch(url, { headers: { Authorization: `Bearer ${tokens.reader}` } });
  assert.equal(file.status, 200);
  assert.match(await file.text(), /^fraud weights 1$|^\{"v":1\}$/);

  await page.getByRole('link', { name: 'v3', exact: true }).first().click();
  await page.waitForURL(/\/ui\/models\/team\/fraud\/v\/3$/);
  await page.getByRole('heading', { name: '@production: 2 requirement(s) unmet' }).waitFor();
  const diff = (await page.getByLabel(/metrics before and after/).textContent()) ?? '';
  assert.match(diff, /- +"value": 0\.925/);
  assert.match(diff, /\+ +"value": 0\.94/);
  await page.getByRole('heading', { name: 'Audit entries' }).waitFor();
  await page.locator('table.audit').getByText('version.update').waitFor();

  // A shared URL opens the same page in a fresh tab once signed in.
  const other = (await open(tokens.reader)).page;
  await other.goto(`${server.url}/ui/models/team/fraud/v/3`);
  await other.getByRole('heading', { name: /team\/fraud@v3/ }).waitFor();
  assert.deepEqual(problems, []);
});

test('promote with a refusal, then approve in the queue and promote, then roll back; another client sees it live', async () => {
  const { page, problems } = await open(tokens.approver);
  const watcher = (await open(tokens.reader)).page;
  await watcher.goto(`${server.url}/ui/models/team/fraud`);
  await live(watcher);

  await page.goto(`${server.url}/ui/models/team/fraud`);
  await live(page);
  await page.getByLabel('Alias', { exact: true }).fill('production');
  await page.getByLabel('Version', { exact: true }).selectOption('3');
  await page.getByRole('button', { name: 'Promote…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Promote team/fraud@production' });
  await dialog.waitFor();
  const change = (await dialog.locator('table.change').textContent()) ?? '';
  assert.match(change, /from\s*v2 sha256:/);
  assert.match(change, /to\s*v3 sha256:/);
  await dialog.getByRole('button', { name: 'Promote to v3' }).click();
  const refusal = dialog.getByRole('alert');
  await refusal.getByText('POLICY_UNMET').waitFor();
  // The server's unmet list, verbatim.
  const expected = await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 3 });
  const shown = await refusal.locator('ul.unmet li').allInnerTexts();
  assert.deepEqual(
    shown,
    expected.json.error.details.map((d: any) => `${d.code} ${d.message}`),
  );
  await dialog.getByRole('button', { name: 'Close' }).click();

  // The registrant fixes the card from another client; the approver approves in the queue.
  await as(server, tokens.writer, 'PATCH', '/v1/models/team/fraud/versions/3', {
    card: { intendedUse: 'Scoring card transactions.', limitations: 'EU only.' },
  });
  await page.getByRole('link', { name: 'Approvals' }).click();
  const item = page.locator('[data-pending="team/fraud@v3"]');
  await item.getByLabel('Comment').fill('card complete, auc up');
  await item.getByRole('button', { name: 'Approve v3' }).click();
  await item.waitFor({ state: 'detached' });
  const approvals = await as(server, tokens.reader, 'GET', '/v1/models/team/fraud/versions/3/approvals');
  assert.deepEqual(
    approvals.json.approvals.map((a: any) => [a.decision, a.approver.name, a.comment]),
    [['approve', 'ada-approver', 'card complete, auc up']],
  );

  await page.goto(`${server.url}/ui/models/team/fraud`);
  await page.getByLabel('Alias', { exact: true }).fill('production');
  await page.getByLabel('Version', { exact: true }).selectOption('3');
  await page.getByRole('button', { name: 'Promote…' }).click();
  await page.getByLabel(/Reason/).fill('approved v3');
  await page.getByRole('button', { name: 'Promote to v3' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await page.locator('li[data-alias="production"]').getByRole('link', { name: 'v3' }).waitFor();
  // The reader's page, open all along, follows without a reload.
  await watcher.locator('li[data-alias="production"]').getByRole('link', { name: 'v3' }).waitFor();

  await page.getByRole('button', { name: 'Roll back production' }).click();
  const back = page.getByRole('dialog', { name: 'Roll back team/fraud@production' });
  const plan = (await back.locator('table.change').textContent()) ?? '';
  assert.match(plan, /from\s*v3 /);
  assert.match(plan, /to\s*v2 /);
  await back.getByRole('button', { name: 'Roll back to v2' }).click();
  await back.waitFor({ state: 'detached' });
  await page.locator('li[data-alias="production"]').getByRole('link', { name: 'v2' }).waitFor();
  await watcher.locator('li[data-alias="production"]').getByRole('link', { name: 'v2' }).waitFor();
  const history = await as(server, tokens.reader, 'GET', '/v1/models/team/fraud/aliases/production/history');
  assert.deepEqual(
    history.json.history.slice(-2).map((e: any) => [e.action, e.from, e.to, e.actor.name]),
    [
      ['set', 2, 3, 'ada-approver'],
      ['rollback', 3, 2, 'ada-approver'],
    ],
  );

  // A change by a client outside the browser shows up live too.
  await as(server, tokens.writer, 'PUT', '/v1/models/team/fraud/aliases/canary', { version: 1, reason: 'live check' });
  await watcher.locator('li[data-alias="canary"]').getByRole('link', { name: 'v1' }).waitFor();
  assert.deepEqual(problems, []);
});

test('audit: filters, verification result, and an export that downloads the log as JSON lines', async () => {
  const { page, problems } = await open(tokens.approver);
  await page.getByRole('link', { name: 'Audit' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  const result = page.getByTestId('verify-result');
  await result.getByText('Chain verified').waitFor();
  assert.match((await result.textContent()) ?? '', /"ok": true/);

  await page.getByLabel('Model or target').fill('team/fraud@production');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/model=team%2Ffraud%40production/);
  // The unfiltered rows stay until the filtered answer replaces them.
  // Polled from the test, not with waitForFunction: its polling evaluates a string, which the
  // console's CSP (no 'unsafe-eval') refuses whenever the first check is not already true.
  await waitFor(
    async () => {
      const cells = await page.locator('table.audit tbody tr td:nth-child(5)').allTextContents();
      return cells.length >= 2 && cells.every((c) => c === 'team/fraud@production');
    },
    20_000,
    'only the filtered rows',
  );
  const targets = await page.locator('table.audit tbody tr td:nth-child(5)').allInnerTexts();
  assert.ok(targets.length >= 2);
  assert.ok(targets.every((t) => t === 'team/fraud@production'));

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (JSON lines)' }).click()]);
  const lines = (await readFile((await download.path())!, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, targets.length);
  for (const e of lines) {
    assert.equal(e.target, 'team/fraud@production');
    assert.match(e.hash, /^sha256:[0-9a-f]{64}$/);
  }
  assert.deepEqual(problems, []);
});

test('XSS payloads in every API field render as inert text; long values do not widen the page', async () => {
  for (const viewport of [
    { width: 1280, height: 900 },
    { width: 390, height: 844 },
  ]) {
    const { page, problems } = await open(tokens.approver, viewport);
    const pages = [
      '/ui/',
      '/ui/models/xss/payload',
      '/ui/models/xss/payload/v/1',
      '/ui/models/xss/payload/v/2',
      '/ui/approvals',
      '/ui/audit?model=xss/payload',
    ];
    for (const path of pages) {
      await page.goto(server.url + path);
      await page.locator('main h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      // Open every disclosure (the queue's card, policy and diff) so hidden payloads render too.
      await page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })");
      await page.waitForLoadState('networkidle');
      await page.locator('.loading').waitFor({ state: 'detached' });
      const state = (await page.evaluate(`({
        xss: window.__xss ?? 0,
        injected: document.querySelectorAll('main img, main script, main iframe, main svg svg, main [onerror], main [onload]').length,
        jsLinks: [...document.querySelectorAll('a')].filter((a) => a.getAttribute('href')?.startsWith('javascript:')).length,
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        text: document.body.innerText,
      })`)) as { xss: number; injected: number; jsLinks: number; overflow: number; text: string };
      assert.equal(state.xss, 0, `${path}: a payload ran`);
      assert.equal(state.injected, 0, `${path}: markup from the API became elements`);
      assert.equal(state.jsLinks, 0, `${path}: a javascript: link`);
      assert.ok(state.overflow <= 0, `${path} at ${viewport.width}px: page is ${state.overflow}px wider than the window`);
      // Verbatim, or JSON-escaped where the page shows JSON (audit details).
      const shown = [XSS.img, XSS.svg, JSON.stringify(XSS.img).slice(1, -1)].some((p) => state.text.includes(p));
      if (path !== '/ui/') assert.ok(shown, `${path}: the payload is shown as text`);
    }
    assert.deepEqual(problems, [], `no CSP violation or page error at ${viewport.width}px`);
  }
});

test('keyboard: the first Tab reaches a visible skip link, and focus is always drawn', async () => {
  const { page } = await open(tokens.reader);
  await page.goto(`${server.url}/ui/models/team/fraud`);
  await page.getByRole('heading', { name: 'Alias timeline' }).waitFor();
  await page.keyboard.press('Tab');
  const skip = (await page.evaluate(`(() => {
    const el = document.activeElement;
    return { text: el.textContent, outline: getComputedStyle(el).outlineStyle, left: el.getBoundingClientRect().left };
  })()`)) as { text: string; outline: string; left: number };
  assert.equal(skip.text, 'Skip to content');
  assert.notEqual(skip.outline, 'none');
  assert.ok(skip.left >= 0, 'visible when focused');
  await page.keyboard.press('Enter');
  for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
  const focused = (await page.evaluate(
    '({ tag: document.activeElement?.tagName, outline: getComputedStyle(document.activeElement).outlineStyle })',
  )) as { tag: string; outline: string };
  assert.notEqual(focused.tag, 'BODY');
  assert.notEqual(focused.outline, 'none');
});

test('a revoked token signs the console out as soon as the server closes its live socket', async () => {
  const created = await as(server, tokens.admin, 'POST', '/v1/tokens', { name: 'short-lived', role: 'reader', scope: '*' });
  const { page } = await open(created.json.token);
  await live(page);
  await as(server, tokens.admin, 'DELETE', `/v1/tokens/${created.json.id}`);
  await page.getByText('Your token was refused (revoked or expired). Sign in again.').waitFor();
  assert.equal(await page.evaluate("sessionStorage.getItem('modelgate.token')"), null);
});

test('a filter being typed survives the list re-rendering under it (a live change arrives before Filter is pressed)', async () => {
  const { page, problems } = await open(tokens.approver);
  await live(page);
  await page.getByLabel('Search').fill('scorer');
  // Another client creates a model: the list reloads live while the search box holds unsent text.
  const created = await as(server, tokens.admin, 'POST', '/v1/models', { name: 'team/typed-over', description: 'arrives mid-typing' });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  await page.getByRole('link', { name: 'team/typed-over' }).waitFor();
  assert.equal(await page.getByLabel('Search').inputValue(), 'scorer', 'the re-render kept what was typed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/\/ui\/\?q=scorer$/);
  await page.getByRole('link', { name: 'team/typed-over' }).waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
});
