// The downloads' shared per-turn budget (src/http/turn-budget.ts): spent within a turn of the
// event loop, whole again in the next.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TurnBudget, type TurnLimits } from '../src/http/turn-budget.js';

const LIMITS: TurnLimits = { busy: 1000, busyWrite: 100, quiet: 5000, quietWrite: 500, quietMs: 20 };
const nextTurn = () => new Promise(setImmediate);

test('a budget spent in one turn is whole again in the next, and wait() resolves there', async () => {
  const budget = new TurnBudget(LIMITS);
  budget.spend(600);
  assert.equal(budget.exhausted, false);
  budget.spend(600);
  assert.equal(budget.exhausted, true, 'more than the budget spent in this turn');
  let waited = false;
  const waiting = budget.wait().then(() => (waited = true));
  await Promise.resolve();
  assert.equal(waited, false, 'wait() does not resolve in the turn that spent the budget');
  await waiting;
  assert.equal(budget.exhausted, false);
});

test('wait() resolves at once while the turn has budget left', async () => {
  const budget = new TurnBudget(LIMITS);
  budget.spend(10);
  let order = '';
  const waiting = budget.wait().then(() => (order += 'wait '));
  setImmediate(() => (order += 'next-turn '));
  await waiting;
  assert.equal(order, 'wait ');
});

test('without a count of other requests every turn keeps the busy budget', async () => {
  const budget = new TurnBudget(LIMITS);
  budget.spend(10);
  await sleep(30);
  budget.spend(10);
  await nextTurn();
  assert.equal(budget.bytes, 1000);
  assert.equal(budget.maxWrite, 100);
});

test('turns take the quiet budget once no other request came for quietMs, the busy one again when one comes', async () => {
  let others = 1;
  const budget = new TurnBudget(LIMITS, () => others);
  budget.spend(10);
  await nextTurn();
  assert.equal(budget.bytes, 1000, 'busy at first: a request came');
  await sleep(30);
  budget.spend(10);
  await nextTurn();
  assert.equal(budget.bytes, 5000, 'no other request for 30 ms');
  assert.equal(budget.quiet, true);
  assert.equal(budget.maxWrite, 500);
  budget.spend(1200);
  assert.equal(budget.exhausted, false, 'a quiet turn takes more than the busy budget');
  others++;
  await nextTurn();
  assert.equal(budget.bytes, 1000, 'another request came: busy from the next turn');
  assert.equal(budget.quiet, false);
  assert.equal(budget.maxWrite, 100);
});
