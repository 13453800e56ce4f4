// Capability grants (auth/grants.ts): a grant verifies only as the exact string the server signed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { macMatches, readGrant, signGrant } from '../src/auth/grants.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const claims = {
  token: 'tok-1',
  purpose: 'hub-lfs-upload',
  subject: { model: 'team/m', digest: `sha256:${'a'.repeat(64)}` },
  expires: 2_000_000_000,
};

test('a signed grant reads back and verifies under its key only', () => {
  const key = randomBytes(32);
  const read = readGrant(signGrant(claims, key))!;
  assert.deepEqual(read.claims, claims);
  assert.equal(macMatches(read.payload, read.mac, key), true);
  assert.equal(macMatches(read.payload, read.mac, randomBytes(32)), false);
  const other = readGrant(signGrant({ ...claims, purpose: 'other' }, key))!;
  assert.equal(macMatches(other.payload, read.mac, key), false, 'a mac does not verify another payload');
});

test('every other spelling of the mac is refused, including those that decode to the same bytes', () => {
  const key = randomBytes(32);
  for (let i = 0; i < 64; i++) {
    const read = readGrant(signGrant({ ...claims, expires: claims.expires + i }, key))!;
    const last = ALPHABET.indexOf(read.mac.at(-1)!);
    // The last of 43 characters holds 4 bits of the mac and 2 unused ones: flipping those gives the same bytes.
    for (const flip of [1, 2, 3]) {
      const respelled = read.mac.slice(0, -1) + ALPHABET[last ^ flip];
      assert.ok(Buffer.from(respelled, 'base64url').equals(Buffer.from(read.mac, 'base64url')));
      assert.equal(macMatches(read.payload, respelled, key), false);
    }
    const changed = read.mac.slice(0, -1) + ALPHABET[last ^ 4];
    assert.equal(macMatches(read.payload, changed, key), false);
  }
});
