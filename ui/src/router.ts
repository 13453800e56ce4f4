// Every page has its own URL under /ui/, so a link can be shared; navigation uses the History API.
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/ui/';

export type Route =
  | { page: 'inventory'; params: URLSearchParams }
  | { page: 'signin'; params: URLSearchParams }
  | { page: 'model'; name: string; params: URLSearchParams }
  | { page: 'version'; name: string; version: number; params: URLSearchParams }
  | { page: 'approvals'; params: URLSearchParams }
  | { page: 'audit'; params: URLSearchParams }
  | { page: 'checkpoints'; params: URLSearchParams }
  | { page: 'fleet'; params: URLSearchParams }
  | { page: 'fleet-model'; name: string; params: URLSearchParams }
  | { page: 'webhooks'; params: URLSearchParams }
  | { page: 'notfound'; params: URLSearchParams };

export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search);
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname === '/ui' ? '' : pathname;
  const decoded = path.split('/').map(safeDecode).join('/');
  if (decoded === '') return { page: 'inventory', params };
  if (decoded === 'signin') return { page: 'signin', params };
  if (decoded === 'approvals') return { page: 'approvals', params };
  if (decoded === 'audit') return { page: 'audit', params };
  if (decoded === 'checkpoints') return { page: 'checkpoints', params };
  if (decoded === 'fleet') return { page: 'fleet', params };
  if (decoded === 'webhooks') return { page: 'webhooks', params };
  const fleet = /^fleet\/(.+)$/.exec(decoded);
  if (fleet) return { page: 'fleet-model', name: fleet[1]!, params };
  const version = /^models\/(.+)\/v\/([1-9][0-9]{0,9})$/.exec(decoded);
  if (version) return { page: 'version', name: version[1]!, version: Number(version[2]), params };
  const model = /^models\/(.+)$/.exec(decoded);
  if (model) return { page: 'model', name: model[1]!, params };
  return { page: 'notfound', params };
}

function safeDecode(piece: string): string {
  try {
    return decodeURIComponent(piece);
  } catch {
    return piece;
  }
}

const enc = (name: string) => name.split('/').map(encodeURIComponent).join('/');

export const href = {
  inventory: (q = '') => `${BASE}${q}`,
  signin: () => `${BASE}signin`,
  model: (name: string) => `${BASE}models/${enc(name)}`,
  version: (name: string, version: number) => `${BASE}models/${enc(name)}/v/${version}`,
  approvals: () => `${BASE}approvals`,
  audit: (q = '') => `${BASE}audit${q}`,
  checkpoints: () => `${BASE}checkpoints`,
  fleet: () => `${BASE}fleet`,
  fleetModel: (name: string) => `${BASE}fleet/${enc(name)}`,
  webhooks: () => `${BASE}webhooks`,
};

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname, location.search));
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return route;
}

/** Same-origin links under /ui/ navigate in place; anything else (new tab, modifier keys) is left to the browser. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = (event.target as Element).closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
