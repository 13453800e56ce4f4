// The operator and auditor console: the static build of ui/ (vite writes it to dist/ui), served
// at /ui/ with a strict Content-Security-Policy. The console is a client of the public API like
// any other: it signs in with a token kept in sessionStorage and sent as a Bearer header, so
// these routes need no authentication and no cookie is ever set.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { TemplatedApp } from 'uWebSockets.js';
import { notFound, unavailable } from '../../domain/errors.js';
import type { AppContext } from '../app-context.js';
import { route, type Exchange } from '../exchange.js';
import { methodNotAllowed } from '../route-errors.js';

export const CONSOLE_PREFIX = '/ui/';
/** Where `vite build` puts the console, relative to this module in dist/src/http/routes. */
const DEFAULT_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

/** Scripts, styles, images and API calls from this origin only; nothing inline, no frames, no forms posting elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.webmanifest', '.txt']);

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  /** Hashed build outputs never change under their name; index.html must be revalidated. */
  immutable: boolean;
}

/** Reads the whole build into memory once: it is small, and a request then never touches the disk. */
export function loadAssets(dir: string): Map<string, Asset> | null {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return null;
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return null;
  }
  const assets = new Map<string, Asset>();
  for (const entry of entries) {
    const file = join(dir, entry);
    if (!statSync(file).isFile()) continue;
    const ext = extname(file);
    const body = readFileSync(file);
    const path = relative(dir, file).split(sep).join('/');
    assets.set(path, {
      body,
      gzip: COMPRESSIBLE.has(ext) ? gzipSync(body, { level: 9 }) : null,
      type: TYPES[ext] ?? 'application/octet-stream',
      immutable: path.startsWith('assets/'),
    });
  }
  return assets.has('index.html') ? assets : null;
}

export function registerConsoleRoutes(app: TemplatedApp, ctx: AppContext, dir = process.env.MODELGATE_UI_DIR || DEFAULT_DIR): void {
  const assets = loadAssets(dir);
  app.any(
    '/',
    route(ctx, 'console.root', (x) => {
      if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
      x.send(302, x.method === 'HEAD' ? null : '', { Location: CONSOLE_PREFIX, ...SECURITY_HEADERS });
    }),
  );
  const serve = route(ctx, 'console.asset', (x) => {
    if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
    if (!assets) throw unavailable('CONSOLE_NOT_BUILT', `the console was not built into ${dir}: run "npm run build"`);
    sendAsset(x, assets);
  });
  app.any('/ui', serve);
  app.any(`${CONSOLE_PREFIX}*`, serve);
}

function sendAsset(x: Exchange, assets: Map<string, Asset>): void {
  const path = x.path === '/ui' ? '' : x.path.slice(CONSOLE_PREFIX.length);
  let asset = assets.get(path);
  if (!asset) {
    // Every console page has its own URL under /ui/; the app reads it and renders that page.
    // A missing file (a path with an extension, or under assets/) stays a 404.
    if (path.startsWith('assets/') || /\.[a-z0-9]+$/i.test(path)) {
      throw notFound('NOT_FOUND', `no console file ${x.path.slice(0, 200)}`);
    }
    asset = assets.get('index.html')!;
  }
  const gzip = asset.gzip && /\bgzip\b/.test(x.headers.acceptEncoding) ? asset.gzip : null;
  const body = gzip ?? asset.body;
  const headers: Record<string, string> = {
    'Content-Type': asset.type,
    'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
    ...SECURITY_HEADERS,
  };
  if (gzip) headers['Content-Encoding'] = 'gzip';
  if (x.method === 'HEAD') x.send(200, null, headers, body.length);
  else x.send(200, body, headers);
}
