// `modelgate blobs verify [--repair]` (and POST /v1/blobs/verify under it) on a disk store and on
// an S3 bucket (s3rver behind the test proxy): a blob whose stored bytes were damaged (same size,
// so nothing else notices) is reported; --repair moves it aside so it reads as missing, and the move
// is audited; the next upload stores it whole again; only admins may run it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { blobBackends } from './harness/blob-backends.js';
import { runCli } from './harness/cli.js';
import { api, auth, registerFiles, sha256, uploadBlob } from './harness/http.js';
import { createToken } from './harness/tokens.js';

const backends = blobBackends('verify');

for (const b of backends) {
  describe(b.label, () => {
    test('a damaged blob is reported, moved aside with --repair, and uploaded again by the next push', async () => {
      const server = await b.start();
      const good = Buffer.from('a small file that stays intact');
      const weights = randomBytes(3 * 1024 * 1024);
      await registerFiles(server, 'verify/model', { 'config.json': good, 'weights.bin': weights });
      const digest = sha256(weights);
      const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };

      const clean = await runCli(['blobs', 'verify'], env);
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stdout, /checked 2 blobs .*\nevery blob matches its digest/);

      // Same length, other bytes: HEAD and the registered size still agree; only a re-hash tells.
      const damaged = randomBytes(weights.length);
      await b.replace(server, digest, damaged);

      const found = await runCli(['blobs', 'verify', '--json'], env);
      assert.equal(found.code, 1, 'a damaged blob left in place is a failure');
      const report = JSON.parse(found.stdout);
      assert.equal(report.checked, 2);
      assert.deepEqual(report.mismatched, [{ digest, size: weights.length, actual: sha256(damaged), movedAside: false }]);
      assert.equal(await b.quarantined(server), 0, 'without --repair nothing moves');

      const writer = await createToken(server, 'verify-writer', 'writer');
      const refused = await runCli(['blobs', 'verify', '--repair'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: writer.token });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /HTTP 403/);
      assert.equal(await b.quarantined(server), 0, 'a refused run moves nothing');

      const repaired = await runCli(['blobs', 'verify', '--repair'], env);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, new RegExp(`DAMAGED ${digest}: .*moved aside`));
      assert.equal(await b.quarantined(server), 1);
      // The move is audited, attributed to the caller, and the chain still verifies.
      const audit = await api(server, 'GET', '/v1/audit?action=blob.quarantine');
      assert.equal(audit.status, 200);
      assert.equal(audit.json.entries.length, 1, 'one move, one entry (the refused run and the reports moved nothing)');
      const [entry] = audit.json.entries;
      assert.equal(entry.target, digest);
      assert.equal(entry.actor.id, 'admin');
      assert.equal(entry.details.actual, sha256(damaged));
      assert.equal(entry.details.size, weights.length);
      assert.equal((await api(server, 'GET', '/v1/audit/verify')).status, 200);
      const head = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) });
      assert.equal(head.status, 404, 'moved aside: it reads as missing, so a push uploads it again');

      assert.equal(await uploadBlob(server, weights), digest);
      const after = await runCli(['blobs', 'verify', '--json'], env);
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(JSON.parse(after.stdout).mismatched, []);
      const body = Buffer.from(
        await (await fetch(`${server.url}/v1/models/verify/model@v1/files/weights.bin`, { headers: auth(server) })).arrayBuffer(),
      );
      assert.ok(body.equals(weights), 'the file is served whole again');
    });
  });
}
