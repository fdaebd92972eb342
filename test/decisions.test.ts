// One or more tests per protocol decision of docs/protocol.md, against the real server over HTTP.
// The suites are numbered: 1-3 "What is recorded", 4 "getTaskDetails", 5 "Reused taskUUIDs",
// 6 "UUIDs", 7-8 "Responses and HTTP status" (webhooks, docs/async.md, are tested with async delivery).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BIN,
  REPO_ROOT,
  backendEnv,
  databaseText,
  imageTask,
  startServer,
  storedMediaNames,
  type Reply,
  type TestServer,
} from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A key for another organization, made with the CLI while the server runs. */
async function createOrgKey(org: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BIN, 'keys', 'create', '--org', org, '--data-dir', server.dataDir],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...backendEnv(server.dataDir) },
    },
  );
  return stdout.trim().split('\n').pop()!;
}

function details(uuid: string, key?: string): Promise<Reply> {
  return server.post(`[{"taskType":"getTaskDetails","taskUUID":"${uuid}"}]`, key === undefined ? {} : { key });
}

/** The exact getTaskDetails reply for a stored task. */
function detailsText(uuid: string, requestText: string, responseText: string): string {
  return `{"data":[{"taskType":"getTaskDetails","taskUUID":"${uuid}","request":${requestText},"response":${responseText}}]}`;
}

/** The only error item of a failed single-task reply, as its exact text. */
function onlyErrorText(reply: Reply): string {
  const m = /^\{"data":\[\],"errors":\[(.*)\]\}$/s.exec(reply.text);
  assert.ok(m, `a single error envelope: ${reply.text}`);
  assert.equal(reply.json.errors?.length, 1);
  return m[1]!;
}

function firstError(reply: Reply): Record<string, unknown> {
  const e = reply.json.errors?.[0];
  assert.ok(e, `an error in ${reply.text}`);
  return e;
}

function mediaFiles(): Promise<string[]> {
  return storedMediaNames(server.dataDir);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('decision 1: what is recorded', () => {
  test('a task that fails validation is recorded; getTaskDetails returns its source and its error envelope', async () => {
    const uuid = randomUUID();
    const source = `{"taskType":"imageInference","taskUUID":"${uuid}","model":"runware:101@1","positivePrompt":"a cat","width":100,"height":128}`;
    const run = await server.post(`[${source}]`);
    assert.equal(run.status, 400);
    assert.equal(firstError(run)['code'], 'invalidWidth');
    const got = await details(uuid);
    assert.equal(got.status, 200);
    assert.equal(got.text, detailsText(uuid, `[${source}]`, `{"errors":[${onlyErrorText(run)}]}`));
  });

  test('tasks without taskType or with an unsupported one are recorded too', async () => {
    for (const source of [
      (u: string) => `{"taskUUID":"${u}","width":64}`,
      (u: string) => `{"taskType":"videoInference","taskUUID":"${u}"}`,
      (u: string) => `{"taskType":"imageInferance","taskUUID":"${u}","positivePrompt":"x"}`,
    ]) {
      const uuid = randomUUID();
      const run = await server.post(`[${source(uuid)}]`);
      assert.equal(run.status, 400, run.text);
      const got = await details(uuid);
      assert.equal(got.text, detailsText(uuid, `[${source(uuid)}]`, `{"errors":[${onlyErrorText(run)}]}`));
    }
  });

  test('a task whose run fails (unreadable seedImage) is recorded with its error', async () => {
    const task = imageTask({ seedImage: 'data:image/png;base64,AAAA' });
    const run = await server.post([task]);
    assert.equal(run.status, 400);
    assert.equal(firstError(run)['code'], 'invalidSeedImage');
    const got = await details(task.taskUUID as string);
    assert.equal(
      got.text,
      detailsText(task.taskUUID as string, JSON.stringify([task]), `{"errors":[${onlyErrorText(run)}]}`),
    );
  });

  test('getTaskDetails is not recorded: looking a UUID up does not take it, and does not change the task it names', async () => {
    const uuid = randomUUID();
    const miss = await details(uuid);
    assert.equal(miss.status, 404);
    // Had the lookup been recorded under this UUID, this task would now conflict.
    const task = imageTask({ taskUUID: uuid });
    const run = await server.post([task]);
    assert.equal(run.status, 200, run.text);
    const first = await details(uuid);
    const second = await details(uuid);
    assert.equal(first.status, 200);
    assert.equal(second.text, first.text);
    assert.equal(first.text, detailsText(uuid, JSON.stringify([task]), run.text));
  });

  test('ping and authentication objects are not recorded, even when they carry a taskUUID', async () => {
    const pingUuid = randomUUID();
    const ping = await server.post([{ taskType: 'ping', taskUUID: pingUuid }]);
    assert.equal(ping.status, 200, ping.text);
    assert.equal((await details(pingUuid)).status, 404);

    const authUuid = randomUUID();
    const task = imageTask();
    const withAuth = await server.post([{ taskType: 'authentication', apiKey: server.key, taskUUID: authUuid }, task], {
      key: null,
    });
    assert.equal(withAuth.status, 200, withAuth.text);
    assert.equal((await details(authUuid)).status, 404);
    // Both UUIDs are still free for tasks.
    for (const uuid of [pingUuid, authUuid])
      assert.equal((await server.post([imageTask({ taskUUID: uuid })])).status, 200);
  });
});

describe('decision 2: the request array, and credentials never stored', () => {
  test('request holds the task object exactly as sent, without the authentication object; no key reaches the data folder or the logs', async () => {
    const otherKey = await createOrgKey('credentials-check');
    const uuid = randomUUID();
    const source = `{ "taskUUID" : "${uuid}",\n\t"taskType":"imageInference","model":"runware:101@1","positivePrompt":"caf\\u00e9 café","width":128.0,"height":128,"seed":1e3}`;
    const auth = `{"taskType":"authentication","apiKey":"${otherKey}"}`;
    const run = await server.post(`[${auth},\r\n${source}]`, { key: null });
    assert.equal(run.status, 200, run.text);
    const got = await details(uuid, otherKey);
    assert.equal(got.text, detailsText(uuid, `[${source}]`, run.text));

    // And once with the Authorization header of the default key.
    const headerTask = imageTask();
    assert.equal((await server.post([headerTask])).status, 200);

    const stored = filesUnder(server.dataDir);
    // Every row, with packed task texts unpacked (a grep of the files alone would not see into them).
    const rows = await databaseText(server.dataDir);
    assert.ok(rows.includes(uuid) && rows.includes(' café'), 'the task and its request are in the database rows');
    for (const key of [otherKey, server.key]) assert.equal(rows.indexOf(key), -1, 'a database row holds an API key');
    assert.equal(rows.indexOf('"taskType":"authentication"'), -1, 'a database row holds an authentication object');
    for (const file of stored) {
      const bytes = readFileSync(file);
      for (const key of [otherKey, server.key]) {
        assert.equal(bytes.indexOf(key), -1, `${file} holds an API key`);
        assert.equal(bytes.indexOf(Buffer.from(key, 'utf16le')), -1, `${file} holds an API key (UTF-16)`);
      }
      assert.equal(bytes.indexOf('"taskType":"authentication"'), -1, `${file} holds an authentication object`);
    }
    for (const key of [otherKey, server.key]) {
      assert.ok(!server.stdout().includes(key) && !server.stderr().includes(key), 'the logs hold no key');
    }
  });
});

describe('decision 2: credentials and shared taskUUIDs', () => {
  test('an authentication object that is not first in the array is never recorded, even with a taskUUID', async () => {
    const key = await createOrgKey('auth-not-first');
    const uuid = randomUUID();
    const res = await server.post([imageTask(), { taskType: 'authentication', apiKey: key, taskUUID: uuid }]);
    assert.equal(res.json.data?.length, 1, res.text);
    assert.equal((await details(uuid)).status, 404, 'the authentication object was recorded as a task');
    for (const file of filesUnder(server.dataDir))
      assert.equal(readFileSync(file).indexOf(key), -1, `${file} holds an API key`);
  });

  test('objects sharing a taskUUID form one task even when one of them lacks a taskType', async () => {
    const uuid = randomUUID();
    const a = `{"taskUUID":"${uuid}","width":64}`;
    const b = JSON.stringify(imageTask({ taskUUID: uuid }));
    const run = await server.post(`[${a},${b}]`);
    assert.equal(run.status, 400, run.text);
    assert.equal(run.json.errors?.length, 1, run.text);
    assert.equal(firstError(run)['code'], 'conflictTaskUUID');
    assert.equal((await details(uuid)).text, detailsText(uuid, `[${a},${b}]`, `{"errors":[${onlyErrorText(run)}]}`));
  });
});

describe('decision 3: the response object', () => {
  test('a success is {"data":[…]} with every item as sent (for a one-task request: the whole HTTP body)', async () => {
    const task = imageTask({ numberResults: 2, includeCost: true, outputType: 'base64Data' });
    const run = await server.post([task]);
    assert.equal(run.status, 200);
    assert.equal(run.json.data?.length, 2);
    assert.ok(run.text.startsWith('{"data":[{') && !run.text.includes('"errors"'));
    assert.equal(
      (await details(task.taskUUID as string)).text,
      detailsText(task.taskUUID as string, JSON.stringify([task]), run.text),
    );
  });

  test('a failure is {"errors":[…]} alone, without a data key', async () => {
    const task = imageTask({ outputQuality: 10 });
    const run = await server.post([task]);
    const got = await details(task.taskUUID as string);
    const response = (JSON.parse(got.text) as { data: { response: Record<string, unknown> }[] }).data[0]!.response;
    assert.deepEqual(Object.keys(response), ['errors']);
    assert.equal(
      got.text,
      detailsText(task.taskUUID as string, JSON.stringify([task]), `{"errors":[${onlyErrorText(run)}]}`),
    );
  });

  test('in a request of several tasks, each task records only its own items', async () => {
    const a = imageTask({ numberResults: 2 });
    const b = imageTask({ width: 100 });
    const c = imageTask();
    const run = await server.post([a, b, c]);
    assert.equal(run.status, 200);
    const parsed = JSON.parse(run.text) as { data: unknown[]; errors: unknown[] };
    const items = parsed.data.map((d) => JSON.stringify(d));
    for (const i of items) assert.ok(run.text.includes(i));
    const err = JSON.stringify(parsed.errors[0]);
    assert.equal(
      (await details(a.taskUUID as string)).text,
      detailsText(a.taskUUID as string, JSON.stringify([a]), `{"data":[${items[0]},${items[1]}]}`),
    );
    assert.equal(
      (await details(b.taskUUID as string)).text,
      detailsText(b.taskUUID as string, JSON.stringify([b]), `{"errors":[${err}]}`),
    );
    assert.equal(
      (await details(c.taskUUID as string)).text,
      detailsText(c.taskUUID as string, JSON.stringify([c]), `{"data":[${items[2]}]}`),
    );
  });
});

describe('decision 4: not found', () => {
  test('an unknown UUID and another organization’s UUID get byte-identical 404 bodies', async () => {
    const otherKey = await createOrgKey('not-found-other');
    const uuid = randomUUID();
    const before = await details(uuid);
    const task = imageTask({ taskUUID: uuid });
    assert.equal((await server.post([task], { key: otherKey })).status, 200);
    const after = await details(uuid);
    assert.equal(before.status, 404);
    assert.equal(after.status, 404);
    assert.equal(after.text, before.text);
    assert.equal(before.headers.get('content-type'), after.headers.get('content-type'));
    const err = firstError(before);
    assert.deepEqual(
      { ...err, message: typeof err['message'] },
      {
        code: 'taskNotFound',
        message: 'string',
        parameter: 'taskUUID',
        type: 'string',
        documentation: 'https://runware.ai/docs',
        taskType: 'getTaskDetails',
        taskUUID: uuid,
      },
    );
    assert.equal(before.text.slice(0, 21), '{"data":[],"errors":[');
    // The owner does see it.
    assert.equal((await details(uuid, otherKey)).status, 200);
  });
});

describe('decision 5: reused taskUUID', () => {
  test('a byte-identical retry gets the stored bytes again; no new image is made', async () => {
    const body = JSON.stringify([imageTask({ seed: 7 })]);
    const first = await server.post(body);
    assert.equal(first.status, 200);
    const files = await mediaFiles();
    const again = await server.post(body);
    assert.equal(again.status, 200);
    assert.equal(again.text, first.text);
    assert.deepEqual(await mediaFiles(), files, 'no new media file');
    // The retry may sit in a request with other whitespace around it: the object is what counts.
    const spaced = await server.post(`\n[ ${body.slice(1, -1)} ]\n`);
    assert.equal(spaced.text, first.text);
    assert.deepEqual(await mediaFiles(), files);
  });

  test('concurrent identical requests run the task once and get the same bytes', async () => {
    const body = JSON.stringify([imageTask({ numberResults: 3 })]);
    const filesBefore = (await mediaFiles()).length;
    const replies = await Promise.all([server.post(body), server.post(body), server.post(body)]);
    for (const r of replies) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, replies[0].text);
    }
    assert.equal((await mediaFiles()).length, filesBefore + 3);
  });

  test('a retry of a task that failed validation gets the same error bytes', async () => {
    const body = JSON.stringify([imageTask({ steps: 0 })]);
    const first = await server.post(body);
    const again = await server.post(body);
    assert.equal(first.status, 400);
    assert.equal(again.status, 400);
    assert.equal(again.text, first.text);
  });

  test('a different object under a used UUID is conflictTaskUUID and leaves the stored task as it was', async () => {
    const task = imageTask();
    const uuid = task.taskUUID as string;
    const first = await server.post([task]);
    assert.equal(first.status, 200);
    const stored = (await details(uuid)).text;
    const variants = [
      JSON.stringify([{ ...task, positivePrompt: 'a different prompt' }]),
      // JSON-equal but not byte-identical.
      JSON.stringify([task], null, 1),
      JSON.stringify([{ ...task, taskUUID: uuid.toUpperCase() }]),
    ];
    for (const body of variants) {
      const res = await server.post(body);
      assert.equal(res.status, 400, res.text);
      const err = firstError(res);
      assert.equal(err['code'], 'conflictTaskUUID');
      assert.equal(err['parameter'], 'taskUUID');
      assert.equal((err['taskUUID'] as string).toLowerCase(), uuid);
      assert.equal(err['taskType'], 'imageInference');
    }
    assert.equal((await details(uuid)).text, stored);
  });

  test('a task that failed validation also owns its UUID: a corrected task under it conflicts', async () => {
    const bad = imageTask({ width: 100 });
    assert.equal((await server.post([bad])).status, 400);
    const fixed = await server.post([{ ...bad, width: 128 }]);
    assert.equal(firstError(fixed)['code'], 'conflictTaskUUID');
  });
});

describe('decision 5/2: several objects with one taskUUID in one request', () => {
  test('they form one task that fails with conflictTaskUUID; its request holds all of them', async () => {
    const uuid = randomUUID();
    const a = `{"taskType":"imageInference","taskUUID":"${uuid}","model":"runware:101@1","positivePrompt":"one","width":128,"height":128}`;
    const b = `{"taskType":"imageInference","taskUUID":"${uuid.toUpperCase()}","model":"runware:101@1","positivePrompt":"two","width":128,"height":128}`;
    const files = (await mediaFiles()).length;
    const run = await server.post(`[${a},${b}]`);
    assert.equal(run.status, 400, run.text);
    assert.equal(firstError(run)['code'], 'conflictTaskUUID');
    assert.equal(firstError(run)['parameter'], 'taskUUID');
    assert.equal((await mediaFiles()).length, files, 'nothing ran');
    assert.equal((await details(uuid)).text, detailsText(uuid, `[${a},${b}]`, `{"errors":[${onlyErrorText(run)}]}`));
  });

  test('beside them, other tasks of the request run normally (HTTP 200)', async () => {
    const dup = imageTask();
    const ok = imageTask();
    const run = await server.post([dup, ok, { ...dup, seed: 3 }]);
    assert.equal(run.status, 200, run.text);
    assert.equal(run.json.data?.length, 1);
    assert.equal(run.json.data?.[0]?.['taskUUID'], ok.taskUUID);
    assert.equal(run.json.errors?.length, 1);
    assert.equal(firstError(run)['code'], 'conflictTaskUUID');
    assert.equal(firstError(run)['taskUUID'], dup.taskUUID);
  });
});

describe('decision 6: UUIDs of any version and case', () => {
  const versions: Record<string, string> = {
    'v1 (time-based)': 'c232ab00-9414-11ec-b3c8-9f6bdeced846',
    'v3 (MD5)': '5df41881-3aed-3515-88a7-2f4a814cf09e',
    'v4 (random)': '919108f7-52d1-4320-9bac-f847db4148a8',
    'v5 (SHA-1)': '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    'v6 (reordered time)': '1ec9414c-232a-6b00-b3c8-9f6bdeced846',
    'v7 (Unix time)': '017f22e2-79b0-7cc3-98c4-dc0c0c07398f',
    'v8 (custom)': '2489e9ad-2ee2-8e00-8ec9-32d5f69181c0',
    nil: '00000000-0000-0000-0000-000000000000',
    max: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    'non-RFC variant bits': '01234567-89ab-cdef-0123-456789abcdef',
    'upper case': randomUUID().toUpperCase(),
    'mixed case': randomUUID().replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c)),
  };
  for (const [name, uuid] of Object.entries(versions)) {
    test(`${name}: accepted, echoed as sent, found again in any case`, async () => {
      const task = imageTask({ taskUUID: uuid });
      const run = await server.post([task]);
      assert.equal(run.status, 200, run.text);
      assert.equal(run.json.data?.[0]?.['taskUUID'], uuid);
      for (const asked of [uuid, uuid.toLowerCase(), uuid.toUpperCase()]) {
        const got = await details(asked);
        assert.equal(got.text, detailsText(asked, JSON.stringify([task]), run.text));
      }
    });
  }

  test('anything else is invalidTaskUUID (a few forms; bad-input covers more)', async () => {
    for (const bad of ['', 'not-a-uuid', `{${randomUUID()}}`, randomUUID().replace(/-/g, ''), `${randomUUID()}\n`]) {
      const res = await server.post([imageTask({ taskUUID: bad })]);
      assert.equal(res.status, 400);
      assert.equal(firstError(res)['code'], 'invalidTaskUUID', JSON.stringify(bad));
    }
  });
});

describe('decision 7: error codes and their fields', () => {
  const cases: {
    name: string;
    send: () => Promise<Reply>;
    status: number;
    code: string;
    fields?: Record<string, unknown>;
  }[] = [
    { name: 'invalidJSON', send: () => server.post('[{'), status: 400, code: 'invalidJSON' },
    { name: 'invalidPayload (not an array)', send: () => server.post('{}'), status: 400, code: 'invalidPayload' },
    {
      name: 'invalidPayload (an element not an object)',
      send: () => server.post('[1]'),
      status: 400,
      code: 'invalidPayload',
    },
    {
      name: 'missingApiKey',
      send: () => server.post([imageTask()], { key: null }),
      status: 401,
      code: 'missingApiKey',
    },
    {
      name: 'invalidApiKey',
      send: () => server.post([imageTask()], { key: 'rt_nope' }),
      status: 401,
      code: 'invalidApiKey',
    },
    {
      name: 'missingTaskType',
      send: () => server.post([imageTask({ taskType: undefined })]),
      status: 400,
      code: 'missingTaskType',
      fields: { parameter: 'taskType' },
    },
    {
      name: 'missingTaskUUID',
      send: () => server.post([imageTask({ taskUUID: undefined })]),
      status: 400,
      code: 'missingTaskUUID',
      fields: { parameter: 'taskUUID', taskType: 'imageInference' },
    },
    {
      name: 'invalidTaskUUID',
      send: () => server.post([imageTask({ taskUUID: 'x' })]),
      status: 400,
      code: 'invalidTaskUUID',
      fields: { parameter: 'taskUUID', type: 'string', taskUUID: 'x' },
    },
    {
      name: 'missing<Param>',
      send: () => server.post([imageTask({ positivePrompt: undefined })]),
      status: 400,
      code: 'missingPositivePrompt',
      fields: { parameter: 'positivePrompt' },
    },
    {
      name: 'invalid<Param> with type, min, max and multiplier',
      send: () => server.post([imageTask({ height: 65 })]),
      status: 400,
      code: 'invalidHeight',
      fields: { parameter: 'height', type: 'integer', min: 128, max: 2048, multiplier: 64 },
    },
    {
      name: 'invalid<Param> with allowedValues',
      send: () => server.post([imageTask({ outputFormat: 'BMP' })]),
      status: 400,
      code: 'invalidOutputFormat',
      fields: { parameter: 'outputFormat', type: 'string', allowedValues: ['JPG', 'PNG', 'WEBP'] },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await c.send();
      assert.equal(res.status, c.status, res.text);
      assert.ok(res.text.startsWith('{"data":[],"errors":['), res.text);
      const err = firstError(res);
      assert.equal(err['code'], c.code);
      assert.equal(typeof err['message'], 'string');
      for (const [k, v] of Object.entries(c.fields ?? {})) assert.deepEqual(err[k], v, `${k} in ${res.text}`);
    });
  }

  test('unsupportedTaskType lists the supported task types in its message', async () => {
    const res = await server.post([imageTask({ taskType: 'textToVideo' })]);
    assert.equal(res.status, 400);
    const err = firstError(res);
    assert.equal(err['code'], 'unsupportedTaskType');
    for (const t of ['imageInference', 'imageUpload', 'getTaskDetails'])
      assert.ok((err['message'] as string).includes(t), err['message'] as string);
  });

  test('conflictTaskUUID', async () => {
    const task = imageTask();
    await server.post([task]);
    const res = await server.post([{ ...task, width: 192 }]);
    assert.equal(res.status, 400);
    assert.equal(firstError(res)['code'], 'conflictTaskUUID');
  });
});

describe('decision 8: the HTTP status of a mixed request', () => {
  const cases: { name: string; body: () => unknown[]; status: number; data: number; errors: number }[] = [
    {
      name: 'all succeed: 200, no errors key',
      body: () => [imageTask(), imageTask()],
      status: 200,
      data: 2,
      errors: 0,
    },
    {
      name: 'a success and a failure: 200',
      body: () => [imageTask(), imageTask({ width: 100 })],
      status: 200,
      data: 1,
      errors: 1,
    },
    {
      name: 'a failure and a success: 200',
      body: () => [imageTask({ width: 100 }), imageTask()],
      status: 200,
      data: 1,
      errors: 1,
    },
    {
      name: 'a not-found lookup and a success: 200',
      body: () => [{ taskType: 'getTaskDetails', taskUUID: randomUUID() }, imageTask()],
      status: 200,
      data: 1,
      errors: 1,
    },
    {
      name: 'a validation error first, then a not-found: 400',
      body: () => [imageTask({ width: 100 }), { taskType: 'getTaskDetails', taskUUID: randomUUID() }],
      status: 400,
      data: 0,
      errors: 2,
    },
    {
      name: 'a not-found first, then a validation error: 404',
      body: () => [{ taskType: 'getTaskDetails', taskUUID: randomUUID() }, imageTask({ width: 100 })],
      status: 404,
      data: 0,
      errors: 2,
    },
    {
      name: 'failures only: the first error decides',
      body: () => [imageTask({ steps: 0 }), imageTask({ taskType: 'nope' })],
      status: 400,
      data: 0,
      errors: 2,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await server.post(c.body());
      assert.equal(res.status, c.status, res.text);
      assert.equal(res.json.data?.length, c.data);
      if (c.errors === 0) assert.ok(!('errors' in res.json), 'no errors key when nothing failed');
      else assert.equal(res.json.errors?.length, c.errors);
    });
  }
});

guardOpenHandles();
