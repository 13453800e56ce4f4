// One simulated inference pod, run as its own process: it resolves `<model>@<alias>` with its
// X-Modelgate-Deployment header every `interval` ms and, whenever the digest changes, downloads
// every file of the new version. `once` resolves and pulls once and then idles without asking
// again (a pod that never picks up a rollback). Arguments: url token model alias identity interval [once].
const [url, token, model, alias, identity, intervalText, mode] = process.argv.slice(2);
if (!url || !token || !model || !alias || !identity || !(Number(intervalText) > 0)) {
  // Started without its arguments (e.g. by a test runner that globs every file): nothing to simulate.
  process.stderr.write('usage: fleet-pod url token model alias identity interval [once]\n');
  process.exit(2);
}
const headers = { Authorization: `Bearer ${token}`, 'X-Modelgate-Deployment': identity! };
let current = '';

async function tick(): Promise<void> {
  const res = await fetch(`${url}/v1/resolve/${model}@${alias}`, { headers });
  if (res.status !== 200) return;
  const body = (await res.json()) as { digest: string; files: { path: string }[] };
  if (body.digest === current) return;
  current = body.digest;
  for (const f of body.files) {
    const file = await fetch(`${url}/v1/models/${model}@${body.digest}/files/${f.path}`, { headers });
    await file.arrayBuffer();
  }
  process.stdout.write(`${identity} on ${body.digest}\n`);
}

async function main(): Promise<void> {
  for (;;) {
    await tick().catch(() => undefined);
    if (mode === 'once') {
      // Stays alive, silent: the server must list it as behind after the alias moves.
      setInterval(() => undefined, 60_000);
      return;
    }
    await new Promise((r) => setTimeout(r, Number(intervalText)));
  }
}

void main();
