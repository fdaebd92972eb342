// Values one backend would take and the other refuse never reach storage, and a storage failure
// under one task never costs the other tasks of its request their answers. Driven over REST on
// SQLite and on PostgreSQL: a taskType holding U+0000 or of 3 000 bytes (unsupportedTaskType)
// and a model holding U+0000 (invalidModel, whatever the task type) get the same answers on
// both, beside tasks that run and answer; a write the database refuses (a trigger) fails only
// its own task.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import {
  dropSchemaOf,
  imageTask,
  newApiKey,
  schemaDatabaseUrl,
  startServer,
  uuid,
  type TestServer,
} from './helpers/server.js';
import { postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Item = Record<string, unknown>;

const NUL_TYPE = 'image\u0000Inference';
const PNG_1X1 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const LONG_TYPE = 'imageInference' + 'x'.repeat(3000 - 'imageInference'.length);

/** One request mixing good tasks with tasks whose taskType or model no backend may store. */
function mixedRequest(): { tasks: Item[]; bad: { task: Item; code: string; parameter: string }[] } {
  const bad = [
    { task: { ...imageTask(), taskType: NUL_TYPE }, code: 'unsupportedTaskType', parameter: 'taskType' },
    { task: { ...imageTask(), taskType: LONG_TYPE }, code: 'unsupportedTaskType', parameter: 'taskType' },
    { task: imageTask({ model: 'runware:101@1\u0000' }), code: 'invalidModel', parameter: 'model' },
    {
      task: {
        taskType: 'upscale',
        taskUUID: uuid(),
        inputImage: PNG_1X1,
        upscaleFactor: 2,
        model: 'runware:upscale\u0000@1',
      },
      code: 'invalidModel',
      parameter: 'model',
    },
  ];
  return { tasks: [imageTask(), ...bad.map((b) => b.task), imageTask()], bad };
}

/** The error objects of a reply with the parts that differ per run (UUIDs, echoed types) left out, to compare backends. */
function errorShapes(errors: Item[]): Item[] {
  return errors.map(({ taskUUID: _u, taskType: _t, ...rest }) => rest);
}

async function checkMixedRequest(server: TestServer): Promise<Item[]> {
  const { tasks, bad } = mixedRequest();
  const reply = await server.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  const data = reply.json.data ?? [];
  const errors = reply.json.errors ?? [];
  for (const good of [tasks[0]!, tasks[tasks.length - 1]!]) {
    assert.equal(
      data.filter((d) => d['taskUUID'] === good.taskUUID).length,
      1,
      `the good task ${good.taskUUID} was answered`,
    );
  }
  for (const b of bad) {
    const mine = errors.filter((e) => e['taskUUID'] === b.task.taskUUID);
    assert.equal(mine.length, 1, `${b.code}: ${reply.text.slice(0, 2000)}`);
    assert.equal(mine[0]!['code'], b.code);
    assert.equal(mine[0]!['parameter'], b.parameter);
    assert.equal(mine[0]!['type'], 'string');
  }
  // Every task is recorded, the refused ones too (with their exact text), and recalled.
  for (const t of tasks) {
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }]);
    assert.equal(details.status, 200, details.text.slice(0, 500));
    assert.deepEqual((details.json.data![0]!['request'] as Item[])[0], t);
  }
  // The history lists them all.
  const history = await fetch(`${server.url}/api/tasks?limit=100`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  assert.equal(history.status, 200);
  const listed = (await history.json()) as { data: Item[] };
  for (const t of tasks)
    assert.ok(
      listed.data.some((x) => x['taskUUID'] === t.taskUUID),
      `history lists ${t.taskUUID}`,
    );
  return errorShapes(errors);
}

/** Prompts that the database refuses to record (installed as a trigger by each backend's test). */
const REFUSED = 'refuse-this-write';
const REFUSED_UNAVAILABLE = 'refuse-this-write-as-full';

async function checkRefusedWrite(server: TestServer, unavailableToo: boolean): Promise<void> {
  const refused = imageTask({ positivePrompt: `a harbour ${REFUSED}` });
  const full = imageTask({ positivePrompt: `a harbour ${REFUSED_UNAVAILABLE}` });
  const tasks = [imageTask(), refused, ...(unavailableToo ? [full] : []), imageTask()];
  const reply = await server.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  const codeOf = (t: Item) => (reply.json.errors ?? []).find((e) => e['taskUUID'] === t.taskUUID)?.['code'];
  assert.equal(codeOf(refused), 'internalServerError', reply.text);
  if (unavailableToo) assert.equal(codeOf(full), 'serviceUnavailable', reply.text);
  for (const good of [tasks[0]!, tasks[tasks.length - 1]!]) {
    assert.equal((reply.json.data ?? []).filter((d) => d['taskUUID'] === good.taskUUID).length, 1, reply.text);
  }
  assert.doesNotMatch(reply.text, /trigger|RAISE|at \w+ \(/, 'no internal message reaches the caller');
  // The server is still healthy and serves the next request.
  assert.equal((await server.post([imageTask()])).status, 200);
}

const shapes: Record<string, Item[]> = {};

describe('SQLite', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { DATABASE_URL: '' } });
  });
  after(async () => {
    await server?.stop();
  });

  test('taskType / model with U+0000 or a 3 000-byte taskType: those tasks get unsupportedTaskType / invalidModel, the others run', async () => {
    shapes['sqlite'] = await checkMixedRequest(server);
  });

  test('a write the database refuses fails only its own task', async () => {
    const db = new Database(join(server.dataDir, 'runtrail.db'));
    try {
      db.exec(`CREATE TRIGGER refuse_writes BEFORE INSERT ON tasks WHEN NEW.request_text LIKE '%${REFUSED}%'
               BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END;`);
    } finally {
      db.close();
    }
    await checkRefusedWrite(server, false);
  });
});

if (await postgresSuiteGate('recorded fields on PostgreSQL')) {
  describe('PostgreSQL', () => {
    let server: TestServer;
    let databaseUrl: string;
    before(async () => {
      databaseUrl = await schemaDatabaseUrl(uniqueSchema());
      server = await startServer({ key: newApiKey(), env: { DATABASE_URL: databaseUrl } });
    });
    after(async () => {
      await server?.stop();
      await dropSchemaOf(databaseUrl);
    });

    test('taskType / model with U+0000 or a 3 000-byte taskType: those tasks get unsupportedTaskType / invalidModel, the others run', async () => {
      shapes['postgres'] = await checkMixedRequest(server);
      if (shapes['sqlite']) assert.deepEqual(shapes['postgres'], shapes['sqlite'], 'the same answers on both backends');
    });

    test('a write the database refuses fails only its own task; one refused as "disk full" answers serviceUnavailable', async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`
          CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.request_text LIKE '%${REFUSED_UNAVAILABLE}%' THEN RAISE EXCEPTION 'no space left (test)' USING ERRCODE = '53100';
            ELSIF NEW.request_text LIKE '%${REFUSED}%' THEN RAISE EXCEPTION 'refused by the test trigger';
            END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER refuse_writes BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_writes();`);
      } finally {
        await client.end();
      }
      await checkRefusedWrite(server, true);
    });
  });
}

guardOpenHandles();
