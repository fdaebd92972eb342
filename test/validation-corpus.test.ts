// Validation as Runware does it, tested as a user meets it: Runware's own failed-task example
// answers Runware's error (and getTaskDetails returns it), every refused request of the fixture
// corpus answers its expected error over REST, over WebSocket and through @runware/sdk-js,
// parameters a model takes but the renderer does not use are accepted, unknown names are accepted,
// modelSearch shows each model's rules, and tasks routed upstream are left to the upstream's
// judgement.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RunwareServer } from '@runware/sdk-js';
import { REPO_ROOT, imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { assertErrorEnvelope, assertErrorObject } from './helpers/error-envelope.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { startRunwareUpstream, type RunwareTestUpstream } from './servers/runware-upstream.js';

type Item = Record<string, unknown>;

interface Row {
  name: string;
  task: Item;
  /** Every field of the error besides message, documentation, taskType and taskUUID. */
  error: Item & { code: string };
  /** A substring of the message. */
  message?: string;
  /** Why @runware/sdk-js cannot send this request (it drops a field); absent for every other row. */
  sdk?: string;
}

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/validation', name), 'utf8'));
const CORPUS = (fixture('refused-requests.json') as { cases: Row[] }).cases;
const SEED = fixture('runware-failed-task.json') as { request: Item[]; response: { errors: Item[] } };

/** The error object, checked field by field: exactly the row's fields besides the four every error has. */
function assertRowError(err: Item, row: Row, taskUUID: string, text: string, taskType = row.task['taskType']): void {
  assertErrorObject(err, { code: row.error.code, message: row.message, fields: { taskType, taskUUID } }, text);
  const rest = Object.fromEntries(
    Object.entries(err).filter(([k]) => !['message', 'documentation', 'taskType', 'taskUUID'].includes(k)),
  );
  assert.deepEqual(rest, row.error, `${row.name}: ${text.slice(0, 400)}`);
}

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('the corpus is a real corpus: 30 or more refused requests, each with a distinct name', () => {
  assert.ok(CORPUS.length >= 30, String(CORPUS.length));
  assert.equal(new Set(CORPUS.map((r) => r.name)).size, CORPUS.length);
});

describe("Runware's failed-task example", () => {
  test('answers the same error, and getTaskDetails then returns the request and that error', async () => {
    const [request] = SEED.request;
    const [expected] = SEED.response.errors;
    // A fresh server: the example's taskUUID is used once per run.
    const fresh = await startServer();
    try {
      const reply = await fresh.post(SEED.request);
      assert.equal(reply.status, 400, reply.text);
      assert.deepEqual(reply.json.data, []);
      const error = reply.json.errors![0]!;
      // Runware's error field for field; runtrail adds taskType to every error (docs/protocol.md).
      assert.deepEqual(error, { ...expected, taskType: 'imageInference' });
      assert.deepEqual(Object.keys(error), [
        'code',
        'message',
        'parameter',
        'type',
        'documentation',
        'taskType',
        'taskUUID',
      ]);

      const details = await fresh.post([{ taskType: 'getTaskDetails', taskUUID: request!['taskUUID'] }]);
      assert.equal(details.status, 200, details.text);
      const item = details.json.data![0]! as { request: Item[]; response: { errors: Item[]; data?: unknown } };
      assert.deepEqual(item.request, SEED.request, 'the request exactly as sent');
      assert.deepEqual(Object.keys(item.response), ['errors']);
      assert.deepEqual(item.response.errors, [{ ...expected, taskType: 'imageInference' }]);
    } finally {
      await fresh.stop();
    }
  });

  test('over WebSocket: the same error in the task’s frame, and getTaskDetails over the socket returns it', async () => {
    const [request] = SEED.request;
    const [expected] = SEED.response.errors;
    const fresh = await startServer();
    const ws = await RawClient.connect(fresh.url);
    try {
      await ws.authenticate(fresh.key);
      ws.send(SEED.request);
      const frame = await ws.next((f) => f.json.errors?.[0]?.['taskType'] === 'imageInference', 20_000);
      assert.deepEqual(frame.json.data ?? [], [], frame.text);
      assert.deepEqual(frame.json.errors, [{ ...expected, taskType: 'imageInference' }]);

      ws.send([{ taskType: 'getTaskDetails', taskUUID: request!['taskUUID'] }]);
      const details = await ws.next((f) => f.json.data?.[0]?.['taskType'] === 'getTaskDetails', 20_000);
      const item = details.json.data![0]! as { request: Item[]; response: { errors: Item[] } };
      assert.deepEqual(item.request, SEED.request, 'the request exactly as sent');
      assert.deepEqual(Object.keys(item.response), ['errors']);
      assert.deepEqual(item.response.errors, [{ ...expected, taskType: 'imageInference' }]);
      assert.deepEqual(ws.violations, []);
    } finally {
      await ws.close();
      await fresh.stop();
    }
  });

  test('through @runware/sdk-js: requestImages rejects with the same error, and getTaskDetails returns it', async () => {
    const [request] = SEED.request;
    const [expected] = SEED.response.errors;
    const fresh = await startServer();
    const rw = (await RunwareServer.initialize({
      apiKey: fresh.key,
      url: fresh.url.replace(/^http/, 'ws') + '/v1',
      timeoutDuration: 20_000,
      globalMaxRetries: 1,
    })) as InstanceType<typeof RunwareServer>;
    try {
      const { taskType: _taskType, ...params } = request!;
      let rejection: unknown;
      try {
        await rw.requestImages(params as never);
      } catch (err) {
        rejection = err;
      }
      assert.equal(typeof rejection, 'object', `the SDK rejects (${String(rejection)})`);
      // sdk-js rejects with `{error: <the error object>}`: Runware's error, field for field.
      assert.deepEqual((rejection as { error: Item }).error, { ...expected, taskType: 'imageInference' });

      const details = await fresh.post([{ taskType: 'getTaskDetails', taskUUID: request!['taskUUID'] }]);
      assert.equal(details.status, 200, details.text);
      const item = details.json.data![0]! as { request: Item[]; response: { errors: Item[] } };
      // What the SDK put on the wire: the example's fields, as given.
      const sent = item.request[0]!;
      for (const [k, v] of Object.entries(request!)) assert.deepEqual(sent[k], v, k);
      assert.deepEqual(item.response.errors, [{ ...expected, taskType: 'imageInference' }]);
    } finally {
      await rw.disconnect();
      await fresh.stop();
    }
  });
});

describe('the refused-request corpus over REST', () => {
  for (const row of CORPUS) {
    test(row.name, async () => {
      const taskUUID = uuid();
      const reply = await server.post([{ ...row.task, taskUUID }]);
      assertErrorEnvelope({ status: reply.status, headers: reply.headers }, reply.text, {
        status: 400,
        code: row.error.code,
      });
      assertRowError(reply.json.errors![0]!, row, taskUUID, reply.text);
    });
  }
});

describe('the refused-request corpus over WebSocket', () => {
  let ws: RawClient;
  before(async () => {
    ws = await RawClient.connect(server.url);
    await ws.authenticate(server.key);
  });
  after(async () => {
    await ws?.close();
  });
  for (const row of CORPUS) {
    test(row.name, async () => {
      const taskUUID = uuid();
      ws.send([{ ...row.task, taskUUID }]);
      const frame = await ws.forTask(taskUUID, 30_000);
      assert.equal(frame.json.data?.length ?? 0, 0, frame.text);
      assert.equal(frame.json.errors?.length, 1, frame.text);
      assertRowError(frame.json.errors[0]!, row, taskUUID, frame.text);
      assert.deepEqual(ws.violations, []);
    });
  }
});

describe('the refused-request corpus through @runware/sdk-js', () => {
  type Sdk = InstanceType<typeof RunwareServer>;
  let rw: Sdk;
  before(async () => {
    rw = (await RunwareServer.initialize({
      apiKey: server.key,
      url: server.url.replace(/^http/, 'ws') + '/v1',
      timeoutDuration: 20_000,
      globalMaxRetries: 1,
    })) as Sdk;
  });
  after(async () => {
    await rw?.disconnect();
  });

  /** The SDK call a user makes for each task type, and the taskType the SDK puts on the wire. */
  const calls: Readonly<Record<string, { send: (params: Item) => Promise<unknown>; sends?: string }>> = {
    imageInference: { send: (p) => rw.requestImages(p as never) },
    videoInference: { send: (p) => rw.videoInference(p as never) },
    // Its sync audioInference names the task by customTaskUUID (it drops taskUUID).
    audioInference: {
      send: ({ taskUUID, ...p }) => rw.audioInference({ ...p, customTaskUUID: taskUUID } as never),
    },
    upscale: { send: (p) => rw.upscaleGan(p) },
    removeBackground: { send: (p) => rw.removeImageBackground(p as never) },
    vectorize: { send: (p) => rw.vectorize(p as never) },
    imageMasking: { send: (p) => rw.imageMasking(p as never) },
    // sdk-js sends controlNetPreProcess under the legacy name.
    controlNetPreprocess: { send: (p) => rw.controlNetPreProcess(p as never), sends: 'imageControlNetPreProcess' },
    imageControlNetPreProcess: { send: (p) => rw.controlNetPreProcess(p as never) },
    caption: { send: (p) => rw.requestImageToText(p) },
  };

  test('every task type of the corpus has its SDK call, and only a few rows cannot be sent by the SDK', () => {
    for (const row of CORPUS) assert.ok(calls[String(row.task['taskType'])], String(row.task['taskType']));
    assert.ok(CORPUS.filter((r) => r.sdk !== undefined).length <= 2);
  });

  for (const row of CORPUS) {
    test(row.name, { skip: row.sdk }, async () => {
      const taskUUID = uuid();
      const { taskType, ...params } = row.task;
      const call = calls[String(taskType)]!;
      let rejection: unknown;
      try {
        await call.send({ ...params, taskUUID });
      } catch (err) {
        rejection = err;
      }
      assert.equal(typeof rejection, 'object', `the SDK rejects (${String(rejection)})`);
      // sdk-js rejects with `{error: <the error object>}`.
      const error = (rejection as { error: Item }).error;
      assertRowError(error, row, taskUUID, JSON.stringify(error), call.sends ?? taskType);
    });
  }
});

describe('what is accepted', () => {
  test('parameters the renderer does not use (lora, steps, CFGScale, scheduler, a ControlNet) are accepted and recorded', async () => {
    const guide =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWMwTjtjnHaGAUIBACS2BZUFBQd/AAAAAElFTkSuQmCC';
    const task = imageTask({
      model: 'runtrail:procedural@plasma-1',
      width: 64,
      height: 64,
      lora: [{ model: 'civitai:58390@62833', weight: 0.8 }],
      steps: 30,
      CFGScale: 3.5,
      scheduler: 'Euler a',
      controlNet: [{ model: 'civitai:38784@44716', guideImage: guide, weight: 0.5, controlMode: 'controlnet' }],
    });
    const reply = await server.post([task]);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.data![0]!['taskUUID'], task['taskUUID']);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task['taskUUID'] }]);
    assert.deepEqual((details.json.data![0]! as { request: Item[] }).request, [task]);
  });

  test('what the table lists as unused really changes nothing: the same seed gives the same bytes with and without them', async () => {
    const render = async (extra: Item) => {
      const reply = await server.post([
        imageTask({
          model: 'runtrail:procedural@plasma-1',
          width: 64,
          height: 64,
          seed: 77,
          outputType: 'base64Data',
          outputFormat: 'PNG',
          ...extra,
        }),
      ]);
      assert.equal(reply.status, 200, reply.text);
      return String(reply.json.data![0]!['imageBase64Data']);
    };
    const plain = await render({});
    assert.equal(
      await render({
        lora: [{ model: 'civitai:58390@62833' }],
        steps: 50,
        CFGScale: 12,
        negativePrompt: 'blurry',
        scheduler: 'Euler a',
        clipSkip: 2,
      }),
      plain,
    );
    assert.notEqual(await render({ seed: 78 }), plain, 'an honoured parameter does change it');
  });

  test('four reference images for FLUX.2 [klein] are within its limit (all resolved, none used by the renderer)', async () => {
    const png =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWMwTjtjnHaGAUIBACS2BZUFBQd/AAAAAElFTkSuQmCC';
    const reply = await server.post([
      imageTask({ model: 'runware:400@1', width: 128, height: 128, inputs: { referenceImages: [png, png, png, png] } }),
    ]);
    assert.equal(reply.status, 200, reply.text);
  });

  test('a size on Imagen 4’s list is accepted', async () => {
    const reply = await server.post([
      imageTask({ model: 'google:2@1', width: 1408, height: 768, outputType: 'base64Data' }),
    ]);
    assert.equal(reply.status, 200, reply.text);
  });

  test("within a model's limits the other task types run: factor 3 on Lanczos, the tile preprocessor without settings", async () => {
    const png =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWMwTjtjnHaGAUIBACS2BZUFBQd/AAAAAElFTkSuQmCC';
    const upscaled = await server.post([
      { taskType: 'upscale', taskUUID: uuid(), model: 'runtrail:lanczos@3', inputImage: png, upscaleFactor: 3 },
    ]);
    assert.equal(upscaled.status, 200, upscaled.text);
    const tile = await server.post([
      {
        taskType: 'controlNetPreprocess',
        taskUUID: uuid(),
        model: 'runware:controlnet-preprocess@tile',
        inputImage: png,
        width: 64,
        height: 64,
      },
    ]);
    assert.equal(tile.status, 200, tile.text);
  });

  test('a parameter name no Runware schema has is accepted and ignored, and kept in the recorded request', async () => {
    const task = imageTask({ width: 128, height: 128, notARunwareParameter: { anything: true } });
    const reply = await server.post([task]);
    assert.equal(reply.status, 200, reply.text);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task['taskUUID'] }]);
    assert.deepEqual((details.json.data![0]! as { request: Item[] }).request, [task]);
  });
});

describe('modelSearch shows the rules each model meets', () => {
  const search = async (query: string): Promise<Item[]> => {
    const reply = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: query, limit: 100 }]);
    assert.equal(reply.status, 200, reply.text);
    return reply.json.data![0]!['results'] as Item[];
  };
  type RulesView = {
    taskType: string;
    air: string;
    rulesOf: string;
    source: string;
    parameters: Record<string, unknown>;
  } & Item;
  const rulesOf = (model: Item | undefined, air: string): RulesView => {
    const views = (model?.['validationRules'] ?? []) as RulesView[];
    const found = views.find((v) => v.air === air);
    assert.ok(found, `${air} among ${views.map((v) => v.air).join(', ')}`);
    return found;
  };

  test('documented fields unchanged, then validationRules for the own AIR and every AIR stood in for', async () => {
    const animator = (await search('keyframe')).find((m) => m['air'] === 'runtrail:keyframe-motion@1');
    assert.ok(animator);
    assert.deepEqual(Object.keys(animator), [
      'air',
      'name',
      'version',
      'category',
      'architecture',
      'tags',
      'private',
      'defaultWidth',
      'defaultHeight',
      'taskTypes',
      'price',
      'shortDescription',
      'validationRules',
    ]);
    const views = animator['validationRules'] as RulesView[];
    assert.deepEqual(
      views.map((v) => [v.taskType, v.air, v.source]),
      [
        ['videoInference', 'runtrail:keyframe-motion@1', 'runtrail'],
        ['videoInference', 'klingai:1@0', 'runware-provider-page'],
        ['videoInference', 'klingai:5@3', 'runware-generic'],
      ],
    );
    assert.equal(rulesOf(animator, 'klingai:5@3').rulesOf, 'any other AIR');
    assert.ok(Array.isArray(rulesOf(animator, 'runtrail:keyframe-motion@1')['honours']));

    // The example in docs/protocol.md is what the server answers (it is abridged: a subset).
    const doc = readFileSync(join(REPO_ROOT, 'docs/protocol.md'), 'utf8');
    const example = /`validationRules`[^]*?```json\n([^]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'docs/protocol.md has the example');
    const documented = JSON.parse(example) as RulesView;
    const served = rulesOf(animator, documented.air);
    for (const [key, value] of Object.entries(documented))
      if (key !== 'parameters') assert.deepEqual(served[key], value, key);
    for (const [name, rule] of Object.entries(documented.parameters))
      assert.deepEqual(served.parameters[name], rule, name);
  });

  test("the seed example's limit, Imagen's sizes, a refused parameter and an upscaler's factors", async () => {
    const plasma = (await search('runware:400@1')).find((m) => m['air'] === 'runtrail:procedural@plasma-1');
    const klein = rulesOf(plasma, 'runware:400@1');
    assert.deepEqual(klein.parameters['referenceImages'], { type: 'string[]', minItems: 0, maxItems: 4 });
    assert.deepEqual(klein.parameters['width'], { type: 'integer', min: 128, max: 2048, multiplier: 64 });
    const imagen = rulesOf(plasma, 'google:2@1');
    assert.deepEqual(imagen.parameters['steps'], { supported: false });
    assert.deepEqual(imagen['sizes'], ['1024x1024', '768x1408', '1408x768', '896x1280', '1280x896']);

    const esrgan = (await search('esrgan')).find((m) => m['air'] === 'runtrail:esrgan@slim');
    const latent = rulesOf(esrgan, 'runware:502@1');
    assert.deepEqual(latent.parameters['upscaleFactor'], {
      type: 'integer',
      allowedValues: [2],
      refusal: 'invalidUpscaleFactor',
    });
    const speech = (await search('espeak')).find((m) => m['air'] === 'runtrail:espeak-ng@1');
    const eleven = rulesOf(speech, 'elevenlabs:*');
    assert.deepEqual(eleven.parameters['duration'], { supported: false });
  });

  test('what modelSearch shows is what validation does: the shown limit refuses one past it', async () => {
    const plasma = (await search('runware:400@1')).find((m) => m['air'] === 'runtrail:procedural@plasma-1');
    const klein = rulesOf(plasma, 'runware:400@1');
    const max = (klein.parameters['referenceImages'] as { maxItems: number }).maxItems;
    const png =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWMwTjtjnHaGAUIBACS2BZUFBQd/AAAAAElFTkSuQmCC';
    const reply = await server.post([
      imageTask({
        model: 'runware:400@1',
        width: 128,
        height: 128,
        inputs: { referenceImages: Array.from({ length: max + 1 }, () => png) },
      }),
    ]);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(reply.json.errors![0]!['code'], 'invalidReferenceImagesCount');
  });
});

describe('modelSearch shows the rules of the AIRs RUNTRAIL_MODEL_MAP sends to a model', () => {
  let mapped: TestServer;
  before(async () => {
    mapped = await startServer({
      env: {
        RUNTRAIL_MODEL_MAP: JSON.stringify([
          // An AIR with no entry of its own (its task type's generic rules), a pattern, an AIR the
          // renderer already stands in for (listed once), and an AIR with rules of its own.
          { taskType: 'imageInference', model: 'civitai:4201@130072', runs: 'runtrail:procedural@plasma-1' },
          { model: 'acme:*', runs: 'runtrail:procedural@plasma-1' },
          { taskType: 'imageInference', model: 'google:2@2', runs: 'runtrail:procedural@plasma-1' },
          { taskType: 'upscale', model: 'runware:502@1', runs: 'runtrail:lanczos@3' },
        ]),
      },
    });
  });
  after(async () => {
    await mapped?.stop();
  });

  type View = { taskType: string; air: string; rulesOf: string; parameters: Record<string, unknown> } & Item;
  const viewsOf = async (query: string, air: string): Promise<View[]> => {
    const reply = await mapped.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: query, limit: 100 }]);
    assert.equal(reply.status, 200, reply.text);
    const model = (reply.json.data![0]!['results'] as Item[]).find((m) => m['air'] === air);
    assert.ok(model, `${query} finds ${air}: ${reply.text.slice(0, 300)}`);
    return model['validationRules'] as View[];
  };

  test('a mapped AIR finds its model, whose rules list the mapped AIRs after its own', async () => {
    const views = await viewsOf('civitai:4201@130072', 'runtrail:procedural@plasma-1');
    assert.deepEqual(
      views.slice(0, 3).map((v) => [v.taskType, v.air, v.rulesOf]),
      [
        ['imageInference', 'runtrail:procedural@plasma-1', 'runtrail procedural plasma (not a diffusion model)'],
        ['imageInference', 'civitai:4201@130072', 'any other AIR'],
        ['imageInference', 'acme:*', 'any other AIR'],
      ],
    );
    const generic = views.find((v) => v.air === 'civitai:4201@130072')!;
    assert.deepEqual(generic.parameters['width'], { type: 'integer', min: 128, max: 2048, multiplier: 64 });
    assert.equal(views.filter((v) => v.air === 'google:2@2').length, 1, 'an AIR listed once');
    const lanczos = await viewsOf('runware:502@1', 'runtrail:lanczos@3');
    const latent = lanczos.find((v) => v.air === 'runware:502@1');
    assert.deepEqual(latent?.parameters['upscaleFactor'], {
      type: 'integer',
      allowedValues: [2],
      refusal: 'invalidUpscaleFactor',
    });
  });

  test('what modelSearch shows for a mapped AIR is what a task naming it meets', async () => {
    const reply = await mapped.post([imageTask({ model: 'civitai:4201@130072', width: 128, height: 2112 })]);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(reply.json.errors![0]!['code'], 'invalidHeight');
    assert.equal(reply.json.errors![0]!['max'], 2048);
    const ok = await mapped.post([imageTask({ model: 'acme:7@1', width: 128, height: 128 })]);
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('tasks routed upstream are judged by the upstream', () => {
  let upstream: Server;
  let front: TestServer;
  const received: Item[] = [];
  before(async () => {
    // A test upstream speaking Runware's documented REST API: every task gets one image item.
    upstream = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        const tasks = (JSON.parse(body) as Item[]).filter((t) => t['taskType'] !== 'authentication');
        received.push(...tasks);
        const data = tasks.map((t) => ({
          taskType: t['taskType'],
          taskUUID: t['taskUUID'],
          imageUUID: uuid(),
          imageURL: 'https://example.com/i.jpg',
        }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    front = await startServer({
      env: {
        RUNTRAIL_UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
        RUNTRAIL_UPSTREAM_API_KEY: 'up_key',
      },
    });
  });
  after(async () => {
    await front?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  test("Runware's failed-task example goes upstream unrefused, and the upstream's answer comes back", async () => {
    const taskUUID = uuid();
    const task: Item = { ...SEED.request[0], taskUUID };
    const reply = await front.post([task]);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.data![0]!['taskUUID'], taskUUID);
    const sent = received.find((t) => t['positivePrompt'] === task['positivePrompt'] && t['model'] === 'runware:400@1');
    assert.ok(sent, 'the upstream received the task');
    assert.deepEqual(sent['inputs'], task['inputs'], 'the five reference images went as sent');
  });

  test('modelSearch lists the upstream route with no rules (the upstream judges), beside local models with theirs', async () => {
    const reply = await front.post([{ taskType: 'modelSearch', taskUUID: uuid(), limit: 100 }]);
    assert.equal(reply.status, 200, reply.text);
    const results = reply.json.data![0]!['results'] as Item[];
    const routed = results.filter((m) => m['architecture'] === 'upstream');
    assert.ok(routed.length > 0, reply.text.slice(0, 400));
    for (const m of routed) assert.deepEqual(m['validationRules'], [], String(m['air']));
    const plasma = results.find((m) => m['air'] === 'runtrail:procedural@plasma-1');
    assert.ok((plasma?.['validationRules'] as unknown[]).length > 0);
  });

  test('a runtrail model on the same server still meets the local rules', async () => {
    const reply = await front.post([imageTask({ model: 'runtrail:procedural@plasma-1', width: 32, height: 32 })]);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(reply.json.errors![0]!['code'], 'invalidWidth');
    assert.equal(reply.json.errors![0]!['min'], 64);
  });
});

describe('corpus rows routed to an upstream are forwarded unrefused (the upstream judges them)', () => {
  let upstream: RunwareTestUpstream;
  let front: TestServer;
  let ws: RawClient;
  before(async () => {
    upstream = await startRunwareUpstream();
    // Every task goes upstream, runtrail's own AIRs and tasks naming no model too.
    front = await startServer({
      env: {
        RUNTRAIL_UPSTREAM_URL: upstream.url,
        RUNTRAIL_UPSTREAM_API_KEY: 'up_key',
        RUNTRAIL_ROUTES: JSON.stringify([{ engine: 'upstream' }]),
      },
    });
    ws = await RawClient.connect(front.url);
    await ws.authenticate(front.key);
  });
  after(async () => {
    await ws?.close();
    await front?.stop();
    await upstream?.close();
  });

  /** The task the upstream received for a front taskUUID's row: the row's task, field for field. */
  const assertForwarded = (row: Row, from: number) => {
    const tasks = upstream.bodies
      .slice(from)
      .flatMap((b) => JSON.parse(b) as Item[])
      .filter((t) => t['taskType'] !== 'authentication');
    assert.equal(tasks.length, 1, `one task went upstream: ${JSON.stringify(tasks).slice(0, 400)}`);
    const { taskUUID: _upstreamUUID, ...sent } = tasks[0]!;
    assert.deepEqual(sent, row.task, 'the task went as sent');
  };

  for (const transport of ['REST', 'WebSocket'] as const) {
    describe(transport, () => {
      for (const row of CORPUS) {
        test(row.name, async () => {
          const taskUUID = uuid();
          const from = upstream.bodies.length;
          let answer: { data?: Item[]; errors?: Item[] };
          let text: string;
          if (transport === 'REST') {
            const reply = await front.post([{ ...row.task, taskUUID }]);
            assert.equal(reply.status, 200, reply.text);
            ({ json: answer, text } = reply);
          } else {
            ws.send([{ ...row.task, taskUUID }]);
            const frame = await ws.forTask(taskUUID, 30_000);
            ({ json: answer, text } = frame);
            assert.deepEqual(ws.violations, []);
          }
          assert.equal(answer.errors, undefined, text);
          assert.equal(answer.data?.[0]?.['taskUUID'], taskUUID, text);
          assertForwarded(row, from);
        });
      }
    });
  }
});

guardOpenHandles();
