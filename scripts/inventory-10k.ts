// `node dist/scripts/inventory-10k.js`: the inventory's paging and search over 10,000 models
// (what the console's first page asks for), timed from a client on the same machine. Not a test:
// it prints figures; the README quotes them.
import { startServer } from '../test/harness/server.js';

const MODELS = 10_000;
const RUNS = 20;

const server = await startServer();
const headers = { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' };
try {
  for (let i = 0; i < MODELS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, j) => {
        const n = i + j;
        const body = {
          name: `team${n % 100}/model-${String(n).padStart(5, '0')}`,
          description: `model ${n}`,
          tags: [n % 7 === 0 ? 'seven' : 'other'],
        };
        const res = await fetch(`${server.url}/v1/models`, { method: 'POST', headers, body: JSON.stringify(body) });
        if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
      }),
    );
  }
  const time = async (label: string, path: string) => {
    const ms: number[] = [];
    let rows = 0;
    for (let k = 0; k < RUNS; k++) {
      const start = performance.now();
      const body = (await (await fetch(server.url + path, { headers })).json()) as { models: unknown[] };
      ms.push(performance.now() - start);
      rows = body.models.length;
    }
    ms.sort((a, b) => a - b);
    console.log(
      `${label}: median ${ms[RUNS >> 1]!.toFixed(1)} ms, p95 ${ms[Math.floor(RUNS * 0.95)]!.toFixed(1)} ms (${rows} rows, ${RUNS} runs)`,
    );
  };
  await time('first page of 50', '/v1/models?limit=50');
  let cursor: string | null = null;
  for (let page = 0; page < 150; page++) {
    const path: string = `/v1/models?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    cursor = ((await (await fetch(server.url + path, { headers })).json()) as { nextCursor: string | null }).nextCursor;
  }
  await time('page 151 of 50 (by cursor)', `/v1/models?limit=50&cursor=${encodeURIComponent(cursor ?? '')}`);
  await time('search matching 1 of 10,000', '/v1/models?limit=50&q=model-09999');
  await time('tag filter', '/v1/models?limit=50&tag=seven');
} finally {
  await server.dispose();
}
