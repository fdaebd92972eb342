// The first hour with the command line, run as a person runs it: `--org` may be left out when
// the answer is obvious, a reader that stops early (`tasks list | head`) ends the command
// quietly, and importing an export into another organization of the same server brings the
// images along.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, backendEnv, imageTask, startServer, type TestServer } from './helpers/server.js';
import { cliOk, createKey, runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
let work: string;
const fox = imageTask({ positivePrompt: 'a red fox', width: 128, height: 128, outputFormat: 'PNG', seed: 7 });
const owl = imageTask({ positivePrompt: 'an owl', width: 128, height: 128 });

before(async () => {
  server = await startServer();
  work = mkdtempSync(join(tmpdir(), 'runtrail-first-run-'));
  for (const t of [fox, owl]) assert.equal((await server.post([t])).status, 200);
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

test('--org defaults to the only organization, then to default, else asks', async () => {
  // The server's own folder: organization `default` only.
  const list = await cliOk(['tasks', 'list'], { dataDir: server.dataDir });
  assert.match(list, /2 shown of 2/);
  assert.match(
    await cliOk(['tasks', 'show', fox.taskUUID as string, '--raw', 'request'], { dataDir: server.dataDir }),
    /"a red fox"/,
  );
  assert.match(await cliOk(['keys', 'retention'], { dataDir: server.dataDir }), /Organization 'default' keeps tasks/);

  // A folder whose one organization has another name: every command acts for it.
  const solo = join(work, 'solo');
  await createKey(solo, 'solo');
  assert.match(await cliOk(['tasks', 'list'], { dataDir: solo }), /0 shown of 0/);
  assert.match(await cliOk(['keys', 'create', '--label', 'second'], { dataDir: solo }), /for organization 'solo'/);
  assert.match(await cliOk(['keys', 'webhook-secret'], { dataDir: solo }), /organization 'solo'/);
  // Two organizations, neither named default: the command says which exist.
  await createKey(solo, 'acme');
  const ambiguous = await runCli(['tasks', 'list'], { dataDir: solo });
  assert.equal(ambiguous.code, 1);
  assert.match(
    ambiguous.stderr,
    /There are 2 organizations and none is named 'default': name one with --org \((acme, solo|solo, acme)\)/,
  );
  assert.doesNotMatch(ambiguous.stderr, /\n\s+at /, 'no stack trace');

  // Several organizations, one of them default: default.
  await createKey(server.dataDir, 'other-team');
  assert.match(await cliOk(['tasks', 'list'], { dataDir: server.dataDir }), /2 shown of 2/);
});

test('`tasks list | head` and `tasks export --ndjson - | head` end quietly (no EPIPE)', async () => {
  const many = join(work, 'many');
  const file = join(work, 'many.ndjson');
  const lines: string[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let i = 0; i < 1500; i++) {
    const taskUUID = randomUUID();
    lines.push(
      JSON.stringify({
        taskUUID,
        taskType: 'imageInference',
        status: 'success',
        model: 'runware:101@1',
        transport: 'rest',
        engine: 'builtin',
        cost: 0.0013,
        errorCode: null,
        createdAt: t0 + i,
        completedAt: t0 + i + 20,
        requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}","positivePrompt":"picture number ${i} of a long series of pictures"}]`,
        responseText: `{"data":[{"taskType":"imageInference","taskUUID":"${taskUUID}"}]}`,
        media: [],
      }),
    );
  }
  writeFileSync(file, lines.join('\n') + '\n');
  await cliOk(['tasks', 'import', file, '--org', 'default'], { dataDir: many });
  for (const command of ['tasks list --limit 1500', 'tasks export --ndjson -']) {
    const run = await pipeline(`node ${JSON.stringify(BIN)} ${command} | head -n 2`, many);
    assert.equal(run.code, 0, `${command}: ${run.stderr}`);
    assert.equal(run.stdout.split('\n').filter(Boolean).length, 2);
    assert.doesNotMatch(run.stderr, /EPIPE|Error/);
  }
});

test('tasks import --org other of a --with-media export copies the images into that organization', async () => {
  const otherKey = await createKey(server.dataDir, 'restored');
  const file = join(work, 'with-media.ndjson');
  const exported = await runCli(['tasks', 'export', '--org', 'default', '--ndjson', file, '--with-media'], {
    dataDir: server.dataDir,
  });
  assert.equal(exported.code, 0, exported.stderr);
  const imported = await cliOk(['tasks', 'import', file, '--org', 'restored'], { dataDir: server.dataDir });
  assert.match(imported, /Imported 2 tasks into organization 'restored'\. Restored 2 media files\./);

  const details = async (taskUUID: string, key: string) => {
    const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    return (
      (await res.json()) as {
        data: { requestText: string; responseText: string; media: { imageUUID: string; imageURL: string }[] }[];
      }
    ).data[0]!;
  };
  const original = await details(fox.taskUUID as string, server.key);
  const copy = await details(fox.taskUUID as string, otherKey);
  assert.equal(copy.requestText, original.requestText);
  assert.equal(copy.responseText, original.responseText, 'the stored texts stay byte for byte');
  assert.equal(copy.media.length, 1, 'the copy has its image');
  assert.notEqual(
    copy.media[0]!.imageUUID,
    original.media[0]!.imageUUID,
    'under a UUID of its own (the original keeps its own)',
  );
  const bytes = async (url: string) => {
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    return Buffer.from(await res.arrayBuffer());
  };
  const originalBytes = await bytes(original.media[0]!.imageURL);
  assert.ok((await bytes(copy.media[0]!.imageURL)).equals(originalBytes));

  // The copy belongs to the target organization: it outlives the original's deletion.
  assert.match(
    await cliOk(['tasks', 'delete', fox.taskUUID as string, '--org', 'default'], { dataDir: server.dataDir }),
    /Deleted 1 task and 1 media file/,
  );
  assert.equal((await fetch(original.media[0]!.imageURL)).status, 404);
  assert.ok((await bytes(copy.media[0]!.imageURL)).equals(originalBytes));

  // An export without --with-media, imported into a third organization of the same server,
  // takes the files the server still has.
  const plain = join(work, 'plain.ndjson');
  await cliOk(['tasks', 'export', '--org', 'restored', '--ndjson', plain], { dataDir: server.dataDir });
  assert.match(
    await cliOk(['tasks', 'import', plain, '--org', 'third'], { dataDir: server.dataDir }),
    /Imported 2 tasks into organization 'third'\. Restored 2 media files\./,
  );
});

/** Runs a shell pipeline with bash's pipefail, so a crash of the first command fails it. */
function pipeline(command: string, dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${command}`], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', RUNTRAIL_DATA_DIR: dataDir, ...backendEnv(dataDir) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

guardOpenHandles();
