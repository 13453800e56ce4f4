// A registry worth looking at in the console: tokens for every role, a model with a history of
// promotions, metrics, a card and lineage, versions waiting for approval, and one model whose
// every free-text field is an XSS payload. Used by the console tests and `npm run screenshots`.
import { uploadBlob } from './http.js';
import type { TestServer } from './server.js';
import { as, createToken } from './tokens.js';

/** Each payload sets window.__xss when it runs; the tests assert it never does. */
export const XSS = {
  img: '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
  script: '<script>window.__xss=(window.__xss||0)+1</script>',
  svg: '<svg onload="window.__xss=(window.__xss||0)+1"></svg>',
  link: 'javascript:window.__xss=(window.__xss||0)+1',
  long: 'A'.repeat(3000),
};
const ALL_XSS = `${XSS.img} ${XSS.script} ${XSS.svg} ${XSS.link}`;

export interface ConsoleTokens {
  admin: string;
  reader: string;
  writer: string;
  approver: string;
  approver2: string;
  scoped: string;
}

async function ok(res: { status: number; json: any }, what: string): Promise<any> {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

async function register(
  server: TestServer,
  token: string,
  name: string,
  files: Record<string, string>,
  record: Record<string, unknown> = {},
): Promise<number> {
  const entries = [];
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    entries.push({ path, size: data.length, digest: await uploadBlob(server, data) });
  }
  const v = await ok(await as(server, token, 'POST', `/v1/models/${name}/versions`, { files: entries, ...record }), `register ${name}`);
  return v.version as number;
}

const COMPLETE_CARD = {
  intendedUse: 'Scoring card transactions for fraud review queues.',
  outOfScopeUse: 'Credit decisions.',
  trainingData: 'Card transactions 2024-2025, EU only.',
  evaluation: 'Holdout of the last 8 weeks.',
  limitations: 'Under-represents merchants onboarded after 2025-06.',
  monitoring: 'AUC and alert volume daily.',
  contacts: ['risk-ml@example.com'],
};

export async function seedConsole(server: TestServer): Promise<ConsoleTokens> {
  const tokens: ConsoleTokens = {
    admin: server.token,
    reader: (await createToken(server, 'rita-reader', 'reader')).token,
    writer: (await createToken(server, 'wes-writer', 'writer')).token,
    approver: (await createToken(server, 'ada-approver', 'approver')).token,
    approver2: (await createToken(server, 'abe-approver', 'approver')).token,
    scoped: (await createToken(server, 'sam-scoped', 'reader', 'risk/*')).token,
  };
  const w = tokens.writer;
  await ok(
    await as(server, w, 'POST', '/v1/models', {
      name: 'team/fraud',
      description: 'Card fraud scorer',
      owner: 'risk-ml',
      tags: ['fraud', 'tabular'],
    }),
    'model',
  );
  const lineage = (parent?: string) => ({
    datasets: [
      { name: 'transactions-2025q1', uri: 's3://data/tx/2025q1' },
      { name: 'chargebacks', uri: 's3://data/chargebacks' },
    ],
    code: { repo: 'git.example.com/risk/fraud', commit: '4f2a9c1e0b7d3a5f6e8c9d0a1b2c3d4e5f6a7b8c' },
    ...(parent ? { parent } : {}),
    trainingRunId: 'run-2025-03-14',
  });
  for (let i = 1; i <= 3; i++) {
    await register(
      server,
      w,
      'team/fraud',
      { 'model.safetensors': `fraud weights ${i}`, 'config.json': `{"v":${i}}` },
      {
        metrics: { auc: { value: 0.88 + i * 0.015, dataset: 'holdout' }, latency_ms: { value: 40 - i * 3 } },
        card: i === 3 ? { intendedUse: COMPLETE_CARD.intendedUse } : COMPLETE_CARD,
        lineage: lineage(i > 1 ? `team/fraud@v${i - 1}` : undefined),
        metadata: { framework: 'xgboost', parameters: 1000 * i },
      },
    );
  }
  // v1 and v2 approved by an approver; v1 then v2 in production; v3 waits.
  for (const n of [1, 2])
    await ok(
      await as(server, tokens.approver, 'POST', `/v1/models/team/fraud/versions/${n}/approvals`, {
        decision: 'approve',
        comment: `looks good (v${n})`,
      }),
      'approve',
    );
  await ok(await as(server, w, 'PUT', '/v1/models/team/fraud/aliases/staging', { version: 1, reason: 'first candidate' }), 'staging');
  await ok(
    await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 1, reason: 'launch' }),
    'prod v1',
  );
  await ok(await as(server, w, 'PUT', '/v1/models/team/fraud/aliases/staging', { version: 2, reason: 'retrained' }), 'staging v2');
  await ok(
    await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 2, reason: 'better auc' }),
    'prod v2',
  );
  await ok(await as(server, w, 'PUT', '/v1/models/team/fraud/aliases/staging', { version: 3, reason: 'new features' }), 'staging v3');
  await ok(
    await as(server, w, 'PATCH', '/v1/models/team/fraud/versions/3', {
      metrics: { auc: { value: 0.94, dataset: 'holdout' }, latency_ms: { value: 29 } },
    }),
    'patch v3',
  );

  await register(server, w, 'risk/churn', { 'weights.bin': 'churn 1' }, { card: COMPLETE_CARD, metrics: { f1: 0.7 } });

  // Every free-text field an attacker could fill, filled.
  await ok(
    await as(server, w, 'POST', '/v1/models', {
      name: 'xss/payload',
      description: `${ALL_XSS} ${XSS.long}`,
      owner: XSS.img,
      tags: ['xss', 'x'.repeat(64)],
    }),
    'xss model',
  );
  await register(
    server,
    w,
    'xss/payload',
    { [`${XSS.img}.bin`]: 'x', [`dir/${'A'.repeat(1000)}`]: 'y' },
    {
      card: { intendedUse: ALL_XSS, limitations: XSS.long, contacts: [XSS.img] },
      metrics: { ['m'.repeat(100)]: 1 },
      lineage: { datasets: [{ name: XSS.svg, uri: XSS.link }], code: { repo: XSS.img, commit: XSS.script }, trainingRunId: XSS.script },
      metadata: { [XSS.script]: XSS.img },
    },
  );
  await register(server, w, 'xss/payload', { 'b.bin': 'z' }, { card: { intendedUse: XSS.svg } });
  await ok(
    await as(server, tokens.approver, 'POST', '/v1/models/xss/payload/versions/1/approvals', { decision: 'approve', comment: ALL_XSS }),
    'xss approve',
  );
  await ok(await as(server, w, 'PUT', '/v1/models/xss/payload/aliases/staging', { version: 1, reason: ALL_XSS }), 'xss alias');
  return tokens;
}
