// upscale, modelSearch and mediaStorage: parameters, ranges, error codes and the ledger; and REST
// parity, every task type giving the same items over REST and over WebSocket.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { ModelInfo } from '../src/engines/engine.js';
import { KNOWN_TASK_TYPES_NOT_RUN } from '../src/tasks/registry.js';
import { BUILTIN_MODELS } from '../src/engines/builtin/catalogue.js';
import { searchModels } from '../src/tasks/model-search.js';
import { upscaledSize } from '../src/tasks/upscale.js';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { RawClient, type Item } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('upscaledSize: the factor, or the input shrunk first so neither side passes 4096', () => {
  assert.deepEqual(upscaledSize(64, 32, 2), { width: 128, height: 64 });
  assert.deepEqual(upscaledSize(1024, 1024, 4), { width: 4096, height: 4096 });
  assert.deepEqual(upscaledSize(2048, 2048, 4), { width: 4096, height: 4096 });
  assert.deepEqual(upscaledSize(2048, 1024, 4), { width: 4096, height: 2048 });
  assert.deepEqual(upscaledSize(3000, 1000, 3), { width: 4095, height: 1365 });
  assert.deepEqual(upscaledSize(10000, 1, 2), { width: 4096, height: 2 });
});

test('searchModels: filters, relevance order, visibility', () => {
  const model = (air: string, name: string, category = 'checkpoint', architecture = 'sdxl'): ModelInfo => ({
    air,
    name,
    version: '1',
    category,
    architecture,
    taskTypes: ['imageInference'],
    defaultWidth: 1024,
    defaultHeight: 1024,
  });
  const models = [
    model('a:2@1', 'Juggernaut lighthouse'),
    model('a:1@1', 'lighthouse'),
    model('b:lighthouse@1', 'other'),
    model('c:1@1', 'lora thing', 'lora', 'flux1d'),
  ];
  assert.deepEqual(
    searchModels(models, {}).map((m) => m.air),
    ['a:1@1', 'a:2@1', 'b:lighthouse@1', 'c:1@1'],
  );
  assert.deepEqual(
    searchModels(models, { search: 'LIGHTHOUSE' }).map((m) => m.air),
    ['a:1@1', 'a:2@1', 'b:lighthouse@1'],
  );
  assert.deepEqual(
    searchModels(models, { category: 'lora' }).map((m) => m.air),
    ['c:1@1'],
  );
  assert.deepEqual(
    searchModels(models, { architecture: 'FLUX1D' }).map((m) => m.air),
    ['c:1@1'],
  );
  assert.deepEqual(searchModels(models, { visibility: 'private' }), []);
  assert.deepEqual(searchModels(models, { tags: ['x'] }), []);
  assert.deepEqual(searchModels(models, { search: 'nothing like it' }), []);
});

describe('new task types, end to end', () => {
  let server: TestServer;
  let ws: RawClient;
  before(async () => {
    server = await startServer();
    ws = await RawClient.connect(server.url);
    await ws.authenticate(server.key);
  });
  after(async () => {
    await ws?.close();
    assert.deepEqual(ws?.violations ?? [], []);
    await server?.stop();
  });

  const run = async (task: Record<string, unknown>) => {
    const r = await server.post([task]);
    return { status: r.status, item: (r.json.data?.[0] ?? r.json.errors?.[0]) as Item };
  };
  /** A PNG made by imageInference (sides in multiples of 64). */
  const produce = async (width = 64, height = 64) =>
    (await run(imageTask({ model: 'runtrail:procedural@plasma-1', width, height, outputFormat: 'PNG' }))).item;
  const bytesOf = async (item: Item) => {
    if (typeof item['imageBase64Data'] === 'string') return Buffer.from(item['imageBase64Data'], 'base64');
    const res = await fetch(String(item['imageURL'] ?? item['mediaURL']));
    assert.equal(res.status, 200);
    return Buffer.from(await res.arrayBuffer());
  };

  test('upscale: Lanczos (lanczos3) by 2–4, every input form, inputImageUUID echoed for a UUID', async () => {
    const source = await produce(128, 64);
    const original = await bytesOf(source);
    const dataUri = `data:image/png;base64,${original.toString('base64')}`;
    const forms: [string, unknown][] = [
      ['uuid', { inputImage: source['imageUUID'] }],
      ['data URI', { inputImage: dataUri }],
      ['base64', { inputImage: original.toString('base64') }],
      ['own URL', { inputImage: source['imageURL'] }],
      ['inputs.image', { inputs: { image: source['imageUUID'] } }],
    ];
    for (const [form, input] of forms) {
      for (const factor of [2, 3, 4]) {
        const { status, item } = await run({
          taskType: 'upscale',
          taskUUID: uuid(),
          ...(input as object),
          upscaleFactor: factor,
          outputFormat: 'PNG',
        });
        assert.equal(status, 200, `${form} ×${factor}: ${JSON.stringify(item)}`);
        assert.equal(
          item['inputImageUUID'],
          form === 'uuid' || form === 'inputs.image' ? source['imageUUID'] : undefined,
        );
        const out = await bytesOf(item);
        const meta = await sharp(out).metadata();
        assert.deepEqual([meta.width, meta.height, meta.format], [128 * factor, 64 * factor, 'png']);
        if (factor === 3 && form === 'uuid') {
          const expected = await sharp(original).resize(384, 192, { kernel: 'lanczos3', fit: 'fill' }).raw().toBuffer();
          assert.ok(expected.equals(await sharp(out).raw().toBuffer()), 'the pixels of a lanczos3 resize');
        }
      }
    }
  });

  test('upscale: output capped at 4096×4096 by shrinking the input first', async () => {
    const source = await produce(2048, 1024);
    const { item } = await run({
      taskType: 'upscale',
      taskUUID: uuid(),
      inputImage: source['imageUUID'],
      upscaleFactor: 4,
      outputFormat: 'JPG',
    });
    const meta = await sharp(await bytesOf(item)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.format], [4096, 2048, 'jpeg']);
  });

  test('upscale: output types and formats, cost, the legacy name, and its errors', async () => {
    const source = await produce();
    const base = { taskUUID: uuid(), inputImage: source['imageUUID'], upscaleFactor: 2 };
    const b64 = (
      await run({ taskType: 'upscale', ...base, outputType: 'base64Data', outputFormat: 'webp', includeCost: true })
    ).item;
    assert.equal((await sharp(Buffer.from(String(b64['imageBase64Data']), 'base64')).metadata()).format, 'webp');
    assert.equal(b64['cost'], 0.0006);
    const uri = (
      await run({ taskType: 'imageUpscale', ...base, taskUUID: uuid(), outputType: 'dataURI', outputQuality: 20 })
    ).item;
    assert.equal(uri['taskType'], 'imageUpscale');
    assert.match(String(uri['imageDataURI']), /^data:image\/jpeg;base64,/);
    assert.deepEqual(Object.keys(uri), ['taskType', 'taskUUID', 'imageUUID', 'inputImageUUID', 'imageDataURI']);

    const errors: [Record<string, unknown>, string, string][] = [
      [{ upscaleFactor: 5 }, 'invalidUpscaleFactor', 'upscaleFactor'],
      [{ upscaleFactor: 1 }, 'invalidUpscaleFactor', 'upscaleFactor'],
      [{ upscaleFactor: 2.5 }, 'invalidUpscaleFactor', 'upscaleFactor'],
      [{ upscaleFactor: undefined }, 'missingUpscaleFactor', 'upscaleFactor'],
      [{ inputImage: undefined }, 'missingInputImage', 'inputImage'],
      [{ inputImage: uuid() }, 'invalidInputImage', 'inputImage'],
      [{ inputImage: 'not an image' }, 'invalidInputImage', 'inputImage'],
      [{ outputFormat: 'GIF' }, 'invalidOutputFormat', 'outputFormat'],
      [{ model: 'lanczos' }, 'invalidModel', 'model'],
    ];
    for (const [change, code, parameter] of errors) {
      const task = { taskType: 'upscale', ...base, taskUUID: uuid(), ...change };
      const { status, item } = await run(task);
      assert.equal(status, 400, JSON.stringify(change));
      assert.equal(item['code'], code, JSON.stringify(change));
      assert.equal(item['parameter'], parameter);
      assert.equal(item['taskUUID'], task.taskUUID);
    }
    // Recorded like every task.
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: b64['taskUUID'] }]);
    assert.deepEqual((details.json.data![0] as { response: unknown }).response, { data: [b64] });
  });

  test('modelSearch: the models the engines serve, with filters, paging and price', async () => {
    const all = (await run({ taskType: 'modelSearch', taskUUID: uuid(), limit: 100 })).item;
    // The catalogue names what really runs, under runtrail AIRs: every built-in model is listed;
    // a tracer, a segmentation network, a resampler and a procedural renderer are these four
    // (other task types add their own).
    assert.equal(all['totalResults'], BUILTIN_MODELS.length);
    const own = new Set([
      'runtrail:imagetracer@1',
      'runtrail:isnet@general-use',
      'runtrail:lanczos@3',
      'runtrail:procedural@plasma-1',
    ]);
    const ownModels = (all['results'] as Item[]).filter((m) => own.has(String(m['air'])));
    // Every result carries its rules (validation-corpus.test.ts checks them); the rest is this.
    assert.ok(ownModels.every((m) => Array.isArray(m['validationRules']) && m['validationRules'].length > 0));
    assert.deepEqual(
      ownModels.map(({ validationRules: _rules, ...rest }) => rest),
      [
        {
          air: 'runtrail:imagetracer@1',
          name: 'imagetracerjs colour tracer (not a learned vectorizer)',
          version: '1',
          category: 'vectorizer',
          architecture: 'tracer',
          tags: [],
          private: false,
          defaultWidth: 0,
          defaultHeight: 0,
          taskTypes: ['vectorize'],
          price: 0.002,
          shortDescription:
            'Quantises the image to 16 colours and traces each colour region into SVG paths (imagetracerjs 1.2.6).',
        },
        {
          air: 'runtrail:isnet@general-use',
          name: 'ISNet general-use (DIS), half precision',
          version: 'general-use',
          category: 'background-removal',
          architecture: 'isnet',
          tags: [],
          private: false,
          defaultWidth: 1024,
          defaultHeight: 1024,
          taskTypes: ['removeBackground'],
          price: 0.0006,
          shortDescription:
            'ISNet dichotomous image segmentation at 1024×1024 on onnxruntime (CPU), with weights published as MIT. Cuts out the main object; its mask is scaled back to the input size.',
        },
        {
          air: 'runtrail:lanczos@3',
          name: 'runtrail Lanczos resampler (not a learned upscaler)',
          version: '3',
          category: 'upscaler',
          architecture: 'resampler',
          tags: [],
          private: false,
          defaultWidth: 0,
          defaultHeight: 0,
          taskTypes: ['upscale'],
          price: 0.0006,
          shortDescription: 'Lanczos-3 resampling (libvips through sharp): enlarges without inventing detail.',
        },
        {
          air: 'runtrail:procedural@plasma-1',
          name: 'runtrail procedural plasma (not a diffusion model)',
          version: 'plasma-1',
          category: 'checkpoint',
          architecture: 'procedural',
          tags: [],
          private: false,
          defaultWidth: 512,
          defaultHeight: 512,
          taskTypes: ['imageInference'],
          price: 0.0013,
          shortDescription:
            'Deterministic sine-wave plasma pictures drawn from seed, model and prompt; no neural network. It gives the protocol and the ledger real images at CPU cost.',
        },
      ],
    );
    const found = async (filters: Record<string, unknown>) =>
      (await run({ taskType: 'modelSearch', taskUUID: uuid(), ...filters })).item;
    assert.equal((await found({ search: 'Plasma' }))['totalResults'], 1);
    // Runware's AIRs (the README's examples) find the local model that runs them.
    const airsFor = async (search: string) =>
      ((await found({ search, limit: 100 }))['results'] as Item[]).map((m) => m['air']);
    assert.ok((await airsFor('runware:101@1')).includes('runtrail:procedural@plasma-1'));
    assert.ok((await airsFor('runware')).includes('runtrail:procedural@plasma-1'));
    assert.ok((await airsFor('runware:109@1')).includes('runtrail:isnet@general-use'));
    assert.equal((await found({ search: 'runtrail:procedural@' }))['totalResults'], 1);
    assert.equal((await found({ search: 'sdxl' }))['totalResults'], 0);
    assert.equal((await found({ category: 'lora' }))['totalResults'], 0);
    // Procedural models (pictures, music, effects, video) say so in their architecture.
    assert.equal(
      (await found({ architecture: 'procedural' }))['totalResults'],
      BUILTIN_MODELS.filter((m) => m.architecture === 'procedural').length,
    );
    assert.ok(
      BUILTIN_MODELS.filter((m) => m.architecture === 'procedural').every((m) => /procedural|not a/.test(m.name)),
    );
    assert.equal((await found({ visibility: 'private' }))['totalResults'], 0);
    assert.deepEqual(
      await found({ offset: BUILTIN_MODELS.length, limit: 1 }).then((i) => [i['totalResults'], i['results']]),
      [BUILTIN_MODELS.length, []],
    );
    assert.equal((await found({ limit: 0 }))['code'], 'invalidLimit');
    assert.equal((await found({ limit: 101 }))['code'], 'invalidLimit');
    assert.equal((await found({ offset: -1 }))['code'], 'invalidOffset');
    assert.equal((await found({ category: 'car' }))['code'], 'invalidCategory');
    assert.equal((await found({ tags: 'x' }))['code'], 'invalidTags');
  });

  test('mediaStorage: upload like imageUpload, usable as an input; delete scoped to the organization', async () => {
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#808000' } })
      .png()
      .toBuffer();
    const stored = (
      await run({
        taskType: 'mediaStorage',
        taskUUID: uuid(),
        media: `data:image/png;base64,${png.toString('base64')}`,
      })
    ).item;
    assert.deepEqual(Object.keys(stored), ['taskType', 'taskUUID', 'operation', 'mediaUUID', 'mediaURL']);
    assert.equal(stored['operation'], 'upload');
    assert.ok((await bytesOf(stored)).equals(png));
    const raw = (
      await run({
        taskType: 'mediaStorage',
        taskUUID: uuid(),
        operation: 'upload',
        media: png.toString('base64'),
        includeCost: true,
      })
    ).item;
    assert.equal(raw['cost'], 0);
    // Same storage as imageUpload: the mediaUUID is an image input.
    const seeded = await run(imageTask({ seedImage: stored['mediaUUID'] }));
    assert.equal(seeded.status, 200);

    const otherKey = await createOrgKey(server, 'media-other');
    const foreign = await server.post(
      [{ taskType: 'mediaStorage', taskUUID: uuid(), operation: 'delete', media: stored['mediaUUID'] }],
      { key: otherKey },
    );
    assert.equal(foreign.json.errors![0]!['code'], 'invalidMedia');
    assert.equal((await fetch(String(stored['mediaURL']))).status, 200, 'another organization cannot delete it');

    const deleted = (
      await run({ taskType: 'mediaStorage', taskUUID: uuid(), operation: 'delete', media: stored['mediaUUID'] })
    ).item;
    assert.deepEqual(deleted, {
      taskType: 'mediaStorage',
      taskUUID: deleted['taskUUID'],
      operation: 'delete',
      mediaUUID: stored['mediaUUID'],
    });
    assert.equal((await fetch(String(stored['mediaURL']))).status, 404);
    const again = await run({
      taskType: 'mediaStorage',
      taskUUID: uuid(),
      operation: 'delete',
      media: stored['mediaUUID'],
    });
    assert.deepEqual([again.status, again.item['code']], [400, 'invalidMedia']);
    assert.equal(
      (await run({ taskType: 'mediaStorage', taskUUID: uuid(), operation: 'delete', media: 'x' })).item['code'],
      'invalidMedia',
    );
    assert.equal(
      (await run({ taskType: 'mediaStorage', taskUUID: uuid(), operation: 'move', media: 'x' })).item['code'],
      'invalidOperation',
    );
    assert.equal((await run({ taskType: 'mediaStorage', taskUUID: uuid() })).item['code'], 'missingMedia');
  });

  test('REST parity: every task type gives the same items over REST and WebSocket', async () => {
    const source = await produce();
    const png = (await bytesOf(source)).toString('base64');
    const cases: Record<string, unknown>[] = [
      imageTask({ seed: 42, numberResults: 2, outputType: 'base64Data', outputFormat: 'PNG', includeCost: true }),
      imageTask({ seed: 7, outputType: 'dataURI', outputFormat: 'WEBP', outputQuality: 50 }),
      imageTask({ seed: 7, outputFormat: 'JPG' }),
      imageTask({ width: 7 }),
      imageTask({ positivePrompt: 'x' }),
      { taskType: 'imageUpload', image: `data:image/png;base64,${png}` },
      { taskType: 'imageUpload', image: 'nope' },
      {
        taskType: 'upscale',
        inputImage: source['imageUUID'],
        upscaleFactor: 2,
        outputType: 'base64Data',
        outputFormat: 'PNG',
        includeCost: true,
      },
      { taskType: 'imageUpscale', inputImage: png, upscaleFactor: 3 },
      { taskType: 'upscale', inputImage: source['imageUUID'], upscaleFactor: 9 },
      { taskType: 'modelSearch', search: 'plasma', limit: 5 },
      { taskType: 'modelSearch', limit: 500 },
      { taskType: 'mediaStorage', media: png },
      { taskType: 'mediaStorage', operation: 'delete', media: uuid() },
      { taskType: 'getTaskDetails', taskUUID: uuid() },
      { taskType: 'getResponse', taskUUID: uuid() },
      imageTask({ deliveryMethod: 'async' }),
      imageTask({ deliveryMethod: 'later' }),
      { taskType: 'imageInference' },
      ...KNOWN_TASK_TYPES_NOT_RUN.map((taskType) => ({ taskType })),
    ];
    // Generated identifiers and URLs differ between two runs; everything else must not.
    const normalize = (items: Item[], taskUUID: string) =>
      JSON.parse(
        JSON.stringify(items)
          .replaceAll(taskUUID, '<task>')
          .replace(/"(imageUUID|mediaUUID)":"[^"]+"/g, '"$1":"<id>"')
          .replace(/"(imageURL|mediaURL)":"[^"]+"/g, '"$1":"<url>"'),
      ) as Item[];
    for (const c of cases) {
      // Each run is a task of its own; lookups name the task they look at.
      const lookup = c['taskType'] === 'getTaskDetails' || c['taskType'] === 'getResponse';
      const restTask = { ...c, taskUUID: lookup ? (c['taskUUID'] as string) : uuid() };
      const wsTask = { ...c, taskUUID: lookup ? (c['taskUUID'] as string) : uuid() };
      const rest = await server.post([restTask]);
      ws.send([wsTask]);
      const frame = await ws.forTask(wsTask.taskUUID);
      const label = JSON.stringify(c).slice(0, 80);
      assert.deepEqual(
        normalize(frame.json.data ?? [], wsTask.taskUUID),
        normalize(rest.json.data ?? [], restTask.taskUUID),
        label,
      );
      assert.deepEqual(
        normalize(frame.json.errors ?? [], wsTask.taskUUID),
        normalize(rest.json.errors ?? [], restTask.taskUUID),
        label,
      );
      assert.ok((rest.json.data?.length ?? 0) + (rest.json.errors?.length ?? 0) > 0, label);
    }
  });
});

guardOpenHandles();
