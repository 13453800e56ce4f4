// The downloads' shared per-turn budget (src/http/turn-budget.ts): spent within a turn of the
// event loop, whole again in the next.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TurnBudget } from '../src/http/turn-budget.js';

test('a budget spent in one turn is whole again in the next, and wait() resolves there', async () => {
  const budget = new TurnBudget(1000);
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
  const budget = new TurnBudget(1000);
  budget.spend(10);
  let order = '';
  const waiting = budget.wait().then(() => (order += 'wait '));
  setImmediate(() => (order += 'next-turn '));
  await waiting;
  assert.equal(order, 'wait ');
});
