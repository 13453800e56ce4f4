import { badRequest } from '../domain/errors.js';

const GLOB = /^[a-z0-9._/*-]{1,128}$/;

/** A model-name glob: `*` matches any run of characters, everything else itself. */
export function assertScope(scope: string): string {
  if (!GLOB.test(scope) || scope.includes('**')) {
    throw badRequest('SCOPE_INVALID', `invalid scope "${scope.slice(0, 80)}": a model-name glob such as "*", "risk/*" or "team/model"`);
  }
  return scope;
}

const compiled = new Map<string, RegExp>();

export function scopeMatches(scope: string, name: string): boolean {
  if (scope === '*') return true;
  let re = compiled.get(scope);
  if (!re) {
    re = new RegExp(
      `^${scope
        .split('*')
        .map((p) => p.replace(/[.]/g, '\\.'))
        .join('.*')}$`,
    );
    compiled.set(scope, re);
  }
  return re.test(name);
}
