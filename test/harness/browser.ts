// One headless Chromium (Debian's package) driven by playwright-core, for the console tests.
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install chromium (or set CHROMIUM_PATH)');
  }
}

export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface ConsoleSession {
  page: Page;
  /** Every URL the page requested or opened a WebSocket to. */
  urls: string[];
  /** CSP violations and uncaught page errors. */
  problems: string[];
}

/** A fresh context (so a fresh sessionStorage) on the console at `baseUrl`, signed in with `token` unless null. */
export async function openConsole(
  browser: Browser,
  baseUrl: string,
  token: string | null,
  viewport = { width: 1280, height: 900 },
): Promise<ConsoleSession> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const urls: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) problems.push(msg.text());
  });
  await page.goto(`${baseUrl}/`);
  if (token !== null) await signIn(page, token);
  return { page, urls, problems };
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('identity').waitFor();
}

/** Waits until the live socket says so; changes made before that would only show on reload. */
export async function waitLive(page: Page): Promise<void> {
  await page.getByLabel('live updates live').waitFor();
}
