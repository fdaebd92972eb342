// `runtrail tasks list | show | export | import | delete` and `runtrail keys retention`, run as
// a person runs them, against the data folder of a real server that recorded real tasks.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { cliOk, runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
let work: string;
const fox = imageTask({ positivePrompt: 'A red fox', outputFormat: 'PNG', includeCost: true });
const failed = imageTask({ positivePrompt: 'a wide fox', width: 100 });
const exactUUID = uuid();
// Spellings JSON.parse + JSON.stringify would change: 128.0, 1e3, escapes, key order.
const exactText = `[{"taskUUID":"${exactUUID}","taskType":"imageInference","model":"runware:101@1","positivePrompt":"caf\\u00e9 \\ud83d\\ude00 \\"q\\"","width":128.0,"height":128,"seed":1e3}]`;
const uploadUUID = uuid();
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const cli = (args: string[], dataDir = server.dataDir) => cliOk(args, { dataDir });

before(async () => {
  server = await startServer();
  work = mkdtempSync(join(tmpdir(), 'runtrail-cli-'));
  await server.post([fox]);
  await server.post([failed]);
  assert.equal((await server.post(exactText)).status, 200);
  await server.post([{ taskType: 'imageUpload', taskUUID: uploadUUID, image: `data:image/png;base64,${PNG_1PX}` }]);
});

after(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

async function apiTask(
  taskUUID: string,
  key = server.key,
): Promise<{ status: number; item: { requestText: string; responseText: string; media: { imageURL: string }[] } }> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { data: never[] };
  return { status: res.status, item: body.data[0]! };
}

test('tasks list: a table, filters, paging and --json', async () => {
  const table = await cli(['tasks', 'list', '--org', 'default']);
  const lines = table.trim().split('\n');
  assert.match(lines[0]!, /^CREATED \(UTC\)\s+TASK UUID\s+TYPE\s+STATUS\s+MODEL\s+COST\s+TIME\s+PROMPT$/);
  assert.equal(lines.length, 1 + 4 + 1);
  for (const id of [fox.taskUUID, failed.taskUUID, exactUUID, uploadUUID])
    assert.ok(table.includes(id as string), `lists ${id}`);
  assert.match(table, /4 shown of 4 \(3 success, 1 error, 0 processing\)/);

  const errors = await cli(['tasks', 'list', '--org', 'default', '--status', 'error']);
  assert.ok(errors.includes(failed.taskUUID as string) && !errors.includes(fox.taskUUID as string));
  const foxes = await cli([
    'tasks',
    'list',
    '--org',
    'default',
    '--text',
    'FOX',
    '--type',
    'imageInference',
    '--since',
    '1h',
  ]);
  assert.match(foxes, /2 shown of 2/);

  const page1 = JSON.parse(await cli(['tasks', 'list', '--org', 'default', '--json', '--limit', '3']));
  assert.equal(page1.data.length, 3);
  assert.deepEqual(page1.counts, { total: 4, processing: 0, success: 3, error: 1 });
  assert.equal(typeof page1.nextCursor, 'string');
  const page2 = JSON.parse(
    await cli(['tasks', 'list', '--org', 'default', '--json', '--limit', '3', '--cursor', page1.nextCursor]),
  );
  assert.equal(page2.data.length, 1);
  assert.equal(page2.nextCursor, null);
  const shown = new Set([...page1.data, ...page2.data].map((t: { taskUUID: string }) => t.taskUUID));
  assert.equal(shown.size, 4);
  assert.match(await cli(['tasks', 'list', '--org', 'default', '--limit', '3']), /more: --cursor \S+/);

  const bad = await runCli(['tasks', 'list', '--org', 'default', '--status', 'done'], { dataDir: server.dataDir });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /status/);
  const noOrg = await runCli(['tasks', 'list', '--org', 'nobody'], { dataDir: server.dataDir });
  assert.equal(noOrg.code, 1);
  assert.match(noOrg.stderr, /No organization named 'nobody'/);
});

test('tasks show: details pretty, --raw the exact stored bytes', async () => {
  const { item } = await apiTask(exactUUID);
  assert.equal(item.requestText, exactText);
  const raw = await cli(['tasks', 'show', exactUUID, '--org', 'default', '--raw']);
  assert.equal(raw, `${exactText}\n${item.responseText}\n`);
  assert.equal(
    await cli(['tasks', 'show', exactUUID.toUpperCase(), '--org', 'default', '--raw', 'request']),
    exactText,
  );
  assert.equal(await cli(['tasks', 'show', exactUUID, '--org', 'default', '--raw', 'response']), item.responseText);

  const pretty = await cli(['tasks', 'show', fox.taskUUID as string, '--org', 'default']);
  assert.match(pretty, /^taskUUID\s+\S+$/m);
  assert.match(pretty, /^status\s+success$/m);
  assert.match(pretty, /^engine\s+builtin$/m);
  assert.match(pretty, /^cost\s+\$0\.0013$/m);
  assert.match(pretty, /^media\s+\S+\.png 128x128/m);
  assert.match(pretty, /"positivePrompt": "A red fox"/);
  const exactPretty = await cli(['tasks', 'show', exactUUID, '--org', 'default']);
  assert.match(exactPretty, /"width": 128\.0,\n/, 'indenting keeps 128.0');
  assert.match(exactPretty, /"seed": 1e3\n/);

  const missing = await runCli(['tasks', 'show', uuid(), '--org', 'default'], { dataDir: server.dataDir });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No task/);
});

test('tasks export → import round-trips byte for byte, media included', async () => {
  const file = join(work, 'export.ndjson');
  const exported = await runCli(
    ['tasks', 'export', '--org', 'default', '--since', '1d', '--ndjson', file, '--with-media'],
    { dataDir: server.dataDir },
  );
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stderr, /exporting \[#{30}\] 100% 4\/4 tasks/, 'a progress bar on stderr');
  assert.match(exported.stderr, /Exported 4 tasks/);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(JSON.parse(lines.find((l) => l.includes(exactUUID))!).requestText, exactText);

  const copyDir = join(work, 'copy');
  const imported = await runCli(['tasks', 'import', file, '--org', 'copy'], { dataDir: copyDir });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /Imported 4 tasks into organization 'copy'/);
  assert.match(imported.stderr, /importing \[#{30}\] 100%/);

  for (const id of [fox.taskUUID as string, failed.taskUUID as string, exactUUID, uploadUUID]) {
    const original = await cli(['tasks', 'show', id, '--org', 'default', '--raw']);
    const copy = await cli(['tasks', 'show', id, '--org', 'copy', '--raw'], copyDir);
    assert.equal(copy, original, `${id} request and response texts are byte-identical`);
    const meta = (dir: string, org: string) => cli(['tasks', 'list', '--org', org, '--json', '--limit', '10'], dir);
    const a = JSON.parse(await meta(server.dataDir, 'default')).data.find(
      (t: { taskUUID: string }) => t.taskUUID === id,
    );
    const b = JSON.parse(await meta(copyDir, 'copy')).data.find((t: { taskUUID: string }) => t.taskUUID === id);
    assert.deepEqual(b, a, 'timing, cost, status, engine and model come along');
  }
  const files = (dir: string) => readdirSync(dir).sort();
  assert.deepEqual(files(join(copyDir, 'media')), files(join(server.dataDir, 'media')));
  for (const f of files(join(server.dataDir, 'media'))) {
    assert.ok(
      readFileSync(join(copyDir, 'media', f)).equals(readFileSync(join(server.dataDir, 'media', f))),
      `${f} restored`,
    );
  }

  const again = await cli(['tasks', 'import', file, '--org', 'copy'], copyDir);
  assert.match(again, /Imported 0 tasks into organization 'copy'; skipped 4 already there/);

  const toStdout = await runCli(['tasks', 'export', '--org', 'default', '--status', 'error', '--ndjson', '-'], {
    dataDir: server.dataDir,
  });
  assert.equal(toStdout.stdout.trim().split('\n').length, 1);
  assert.equal(JSON.parse(toStdout.stdout).taskUUID, failed.taskUUID);

  const broken = join(work, 'broken.ndjson');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(broken, `${lines[0]}\n{"taskUUID":"../../etc"}\n`);
  const refused = await runCli(['tasks', 'import', broken, '--org', 'copy2'], { dataDir: copyDir });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /broken\.ndjson:2: 'taskUUID' must be a string|broken\.ndjson:2: 'taskUUID' is not a UUID/,
  );
});

test('tasks delete: one task, then everything before a time, with media files; deleted tasks answer taskNotFound', async () => {
  const { item } = await apiTask(fox.taskUUID as string);
  const imageURL = item.media[0]!.imageURL;
  const mediaFile = join(server.dataDir, 'media', imageURL.split('/').pop()!);
  assert.ok(existsSync(mediaFile));

  const one = await cli(['tasks', 'delete', fox.taskUUID as string, '--org', 'default']);
  assert.match(one, /Deleted 1 task and 1 media file\./);
  assert.equal(existsSync(mediaFile), false);
  assert.equal((await fetch(imageURL)).status, 404);
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: fox.taskUUID }]);
  assert.equal(details.status, 404);
  assert.equal((details.json.errors![0] as { code: string }).code, 'taskNotFound');
  assert.equal((await apiTask(fox.taskUUID as string)).status, 404);

  const twice = await runCli(['tasks', 'delete', fox.taskUUID as string, '--org', 'default'], {
    dataDir: server.dataDir,
  });
  assert.equal(twice.code, 1);
  const neither = await runCli(['tasks', 'delete', '--org', 'default'], { dataDir: server.dataDir });
  assert.equal(neither.code, 1);
  assert.match(neither.stderr, /either a taskUUID or --before/);

  assert.match(await cli(['tasks', 'delete', '--org', 'default', '--before', '2000-01-01']), /Deleted 0 tasks/);
  const rest = await cli([
    'tasks',
    'delete',
    '--org',
    'default',
    '--before',
    new Date(Date.now() + 1000).toISOString(),
  ]);
  assert.match(rest, /Deleted 3 tasks and 2 media files\./);
  assert.match(await cli(['tasks', 'list', '--org', 'default']), /0 shown of 0/);
  assert.deepEqual(readdirSync(join(server.dataDir, 'media')), []);
  assert.equal((await server.post([{ taskType: 'getTaskDetails', taskUUID: exactUUID }])).status, 404);
});

test('keys retention: shows and sets days per organization', async () => {
  assert.match(await cli(['keys', 'retention', '--org', 'default']), /keeps tasks for the server default/);
  assert.match(await cli(['keys', 'retention', '--org', 'default', '--days', '0.5']), /keeps tasks for 0\.5 days/);
  assert.match(await cli(['keys', 'retention', '--org', 'default']), /0\.5 days/);
  assert.match(await cli(['keys', 'retention', '--org', 'default', '--default']), /server default/);
  const bad = await runCli(['keys', 'retention', '--org', 'default', '--days', '-1'], { dataDir: server.dataDir });
  assert.equal(bad.code, 1);
});

test('tasks show of a running async task: one processing entry per requested result, as getResponse shows it', async () => {
  const running = imageTask({
    deliveryMethod: 'async',
    numberResults: 2,
    positivePrompt: 'still rendering [slow:4000]',
  });
  assert.equal((await server.post([running])).status, 200);
  const raw = JSON.parse(
    await cli(['tasks', 'show', running.taskUUID as string, '--org', 'default', '--raw', 'response']),
  ) as { data: Record<string, unknown>[] };
  assert.equal(raw.data.length, 2, JSON.stringify(raw));
  for (const item of raw.data) assert.deepEqual([item['taskUUID'], item['status']], [running.taskUUID, 'processing']);
  const pretty = await cli(['tasks', 'show', running.taskUUID as string, '--org', 'default']);
  assert.match(pretty, /^status\s+processing$/m);
  assert.equal(pretty.match(/"status": "processing"/g)?.length, 2);
});

guardOpenHandles();
