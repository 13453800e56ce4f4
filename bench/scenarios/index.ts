// Every scenario, in the order a full run takes them. A new scenario is one module exporting a
// Scenario plus one line here.
import { abortsScenario } from './aborts.js';
import { coldStartScenario } from './cold-start.js';
import { downloadScenario } from './download.js';
import { fleetScenario } from './fleet.js';
import { hashScenario } from './hash.js';
import { memoryScenario } from './memory.js';
import { propagationScenario } from './propagation.js';
import { pullScenario } from './pull.js';
import { pushScenario } from './push.js';
import { resolveScenario } from './resolve.js';
import { stacksScenario } from './stacks.js';
import { uploadScenario } from './upload.js';
import type { Scenario } from './scenario.js';

export const scenarios: readonly Scenario[] = [
  hashScenario,
  resolveScenario,
  stacksScenario,
  downloadScenario,
  memoryScenario,
  abortsScenario,
  uploadScenario,
  pullScenario,
  pushScenario,
  propagationScenario,
  coldStartScenario,
  fleetScenario,
];
