// `npm run screenshots`: starts a gateway with the console fixtures and writes the screenshots the
// README shows to docs/screenshots/ (light theme, desktop width; plus one dark phone-width shot).
// Not part of `npm test`, so tests never rewrite tracked files.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../test/harness/browser.js';
import { seedConsole } from '../test/harness/console-fixtures.js';
import { startServer } from '../test/harness/server.js';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/signin`);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('identity').waitFor();
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const tokens = await seedConsole(server);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    const page = await context.newPage();
    await signIn(page, server.url, tokens.approver);
    const shots: [string, string, string][] = [
      ['inventory', '/ui/', 'Models'],
      ['model', '/ui/models/team/fraud', 'Alias timeline'],
      ['version', '/ui/models/team/fraud/v/3', 'Policy status'],
      ['approvals', '/ui/approvals', 'Approvals'],
      ['audit', '/ui/audit', 'Audit log'],
    ];
    for (const [file, path, heading] of shots) {
      await page.goto(server.url + path);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
      if (file === 'approvals') await page.locator('[data-pending="team/fraud@v3"] summary', { hasText: 'Changes since' }).click();
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: `${OUT}${file}.png`, fullPage: file !== 'model' });
      console.log(`wrote docs/screenshots/${file}.png`);
    }
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    const mobile = await phone.newPage();
    await signIn(mobile, server.url, tokens.approver);
    await mobile.goto(`${server.url}/ui/models/team/fraud`);
    await mobile.getByRole('heading', { name: 'Alias timeline' }).waitFor();
    await mobile.waitForLoadState('networkidle');
    await mobile.screenshot({ path: `${OUT}model-phone-dark.png` });
    console.log('wrote docs/screenshots/model-phone-dark.png');
  } finally {
    await browser.close();
    await server.dispose();
  }
}

await main();
