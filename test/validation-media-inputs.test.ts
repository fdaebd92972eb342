// Every place a task takes media, checked the way a user meets it: for each place (image
// inference's seed, mask, reference, ControlNet and IP-Adapter images at the root and under
// `inputs`, video's frame, reference and key images, and the input image of every single-image
// tool) a value of no media form, a UUID nobody uploaded, the UUID of another organization's
// image and another organization's media URL are each refused over HTTP with that field's own
// code and the exact parameter path, the refusal is what getTaskDetails returns, and no work runs
// (the engine's pool completes nothing and no media is stored). With RUNTRAIL_TEST_BACKEND=postgres
// the same matrix runs on PostgreSQL.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MEDIA_INPUT_PATHS } from '../src/validation/media-inputs.js';
import { createOrgKey } from './helpers/org-key.js';
import { storedMediaNames, startServer, uuid, type TestServer } from './helpers/server.js';
import { assertErrorEnvelope } from './helpers/error-envelope.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Item = Record<string, unknown>;

/** A 2×2 PNG: a media input that resolves, beside the one under test. */
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWMwTjtjnHaGAUIBACS2BZUFBQd/AAAAAElFTkSuQmCC';

interface Place {
  taskType: string;
  /** The exact path the error names. */
  parameter: string;
  /** The field's own code. */
  code: string;
  /** A task that is valid but for the media value `v` at `parameter`. */
  task: (v: string) => Item;
  /** The entry of MEDIA_INPUT_PATHS this place exercises. */
  listed: string;
}

const image = (extra: Item): Item => ({
  taskType: 'imageInference',
  model: 'runware:400@1',
  positivePrompt: 'a lighthouse at dusk',
  width: 128,
  height: 128,
  ...extra,
});
const video = (extra: Item): Item => ({
  taskType: 'videoInference',
  model: 'runtrail:keyframe-motion@1',
  positivePrompt: 'waves at dusk',
  duration: 1,
  width: 256,
  height: 256,
  ...extra,
});

const PLACES: Place[] = [
  // imageInference, at the root and under `inputs`; a reference image as a string or as `{image}`.
  {
    taskType: 'imageInference',
    parameter: 'seedImage',
    code: 'invalidSeedImage',
    listed: 'seedImage',
    task: (v) => image({ seedImage: v }),
  },
  {
    taskType: 'imageInference',
    parameter: 'maskImage',
    code: 'invalidMaskImage',
    listed: 'maskImage',
    task: (v) => image({ seedImage: PNG, maskImage: v }),
  },
  {
    taskType: 'imageInference',
    parameter: 'referenceImages.1',
    code: 'invalidReferenceImages',
    listed: 'referenceImages[]',
    task: (v) => image({ referenceImages: [PNG, v] }),
  },
  {
    taskType: 'imageInference',
    parameter: 'referenceImages.0.image',
    code: 'invalidReferenceImages',
    listed: 'referenceImages[]',
    task: (v) => image({ referenceImages: [{ type: 'style', image: v }] }),
  },
  {
    taskType: 'imageInference',
    parameter: 'inputs.seedImage',
    code: 'invalidSeedImage',
    listed: 'inputs.seedImage',
    task: (v) => image({ inputs: { seedImage: v } }),
  },
  {
    taskType: 'imageInference',
    parameter: 'inputs.maskImage',
    code: 'invalidMaskImage',
    listed: 'inputs.maskImage',
    task: (v) => image({ inputs: { seedImage: PNG, maskImage: v } }),
  },
  {
    taskType: 'imageInference',
    parameter: 'inputs.referenceImages.2',
    code: 'invalidReferenceImages',
    listed: 'inputs.referenceImages[]',
    task: (v) => image({ inputs: { referenceImages: [PNG, PNG, v] } }),
  },
  {
    taskType: 'imageInference',
    parameter: 'inputs.referenceImages.0.image',
    code: 'invalidReferenceImages',
    listed: 'inputs.referenceImages[]',
    task: (v) => image({ inputs: { referenceImages: [{ image: v }] } }),
  },
  {
    taskType: 'imageInference',
    parameter: 'controlNet.1.guideImage',
    code: 'invalidGuideImage',
    listed: 'controlNet[].guideImage',
    task: (v) =>
      image({
        controlNet: [
          { model: 'civitai:38784@44716', guideImage: PNG },
          { model: 'civitai:38784@44716', guideImage: v },
        ],
      }),
  },
  {
    taskType: 'imageInference',
    parameter: 'ipAdapters.0.guideImage',
    code: 'invalidGuideImage',
    listed: 'ipAdapters[].guideImage',
    task: (v) => image({ ipAdapters: [{ model: 'runware:55@1', guideImage: v }] }),
  },
  {
    taskType: 'imageInference',
    parameter: 'ipAdapters.0.guideImages.1',
    code: 'invalidGuideImages',
    listed: 'ipAdapters[].guideImages[]',
    task: (v) => image({ ipAdapters: [{ model: 'runware:55@1', guideImages: [PNG, v] }] }),
  },
  // videoInference: frame images under either name, at the root and under `inputs`; key images; reference images.
  {
    taskType: 'videoInference',
    parameter: 'frameImages.0.inputImage',
    code: 'invalidInputImage',
    listed: 'frameImages[].inputImage',
    task: (v) => video({ frameImages: [{ inputImage: v, frame: 'first' }] }),
  },
  {
    taskType: 'videoInference',
    parameter: 'frameImages.1.image',
    code: 'invalidFrameImages',
    listed: 'frameImages[].image',
    task: (v) => video({ frameImages: [{ image: PNG }, { image: v }] }),
  },
  {
    taskType: 'videoInference',
    parameter: 'inputs.frameImages.0.inputImage',
    code: 'invalidInputImage',
    listed: 'inputs.frameImages[].inputImage',
    task: (v) => video({ inputs: { frameImages: [{ inputImage: v }] } }),
  },
  {
    taskType: 'videoInference',
    parameter: 'inputs.frameImages.1.image',
    code: 'invalidFrameImages',
    listed: 'inputs.frameImages[].image',
    task: (v) => video({ inputs: { frameImages: [{ image: PNG }, { image: v, frame: 'last' }] } }),
  },
  {
    taskType: 'videoInference',
    parameter: 'inputs.image',
    code: 'invalidImage',
    listed: 'inputs.image',
    task: (v) => video({ inputs: { image: v } }),
  },
  {
    taskType: 'videoInference',
    parameter: 'inputs.images.1',
    code: 'invalidImages',
    listed: 'inputs.images[]',
    task: (v) => video({ inputs: { images: [PNG, v] } }),
  },
  {
    taskType: 'videoInference',
    parameter: 'referenceImages.0',
    code: 'invalidReferenceImages',
    listed: 'referenceImages[]',
    task: (v) => video({ frameImages: [{ inputImage: PNG }], referenceImages: [v] }),
  },
  {
    taskType: 'videoInference',
    parameter: 'inputs.referenceImages.0',
    code: 'invalidReferenceImages',
    listed: 'inputs.referenceImages[]',
    task: (v) => video({ inputs: { image: PNG, referenceImages: [v] } }),
  },
  // The single-image tools: the legacy root `inputImage` and the newer `inputs.image`.
  ...(
    [
      ['upscale', { model: 'runtrail:lanczos@3', upscaleFactor: 2 }],
      ['removeBackground', { model: 'runware:109@1' }],
      ['vectorize', { model: 'recraft:1@1' }],
      ['imageMasking', { model: 'runware:35@1' }],
      ['controlNetPreprocess', { model: 'runware:controlnet-preprocess@canny' }],
      ['caption', { model: 'runware:153@1' }],
    ] as const
  ).flatMap(([taskType, rest]): Place[] => [
    {
      taskType,
      parameter: 'inputImage',
      code: 'invalidInputImage',
      listed: 'inputImage',
      task: (v) => ({ taskType, ...rest, inputImage: v }),
    },
    {
      taskType,
      parameter: 'inputs.image',
      code: 'invalidImage',
      listed: 'inputs.image',
      task: (v) => ({ taskType, ...rest, inputs: { image: v } }),
    },
  ]),
];

let server: TestServer;
/** The other organization's API key, and an image it produced (its UUID and its media URL). */
let otherKey: string;
let theirs: { imageUUID: string; imageURL: string };

/** Operations the engine's pool has completed: work, where any ran. */
async function completedWork(): Promise<number> {
  const res = await fetch(`${server.url}/healthz/engines`);
  const body = (await res.json()) as { engines: { pool?: { completed: number } }[] };
  return body.engines.reduce((n, e) => n + (e.pool?.completed ?? 0), 0);
}

before(async () => {
  server = await startServer();
  otherKey = await createOrgKey(server, 'other');
  const made = await server.post(
    [
      {
        taskType: 'imageInference',
        taskUUID: uuid(),
        model: 'runtrail:procedural@plasma-1',
        positivePrompt: 'their own picture',
        width: 64,
        height: 64,
        outputFormat: 'PNG',
      },
    ],
    { key: otherKey },
  );
  assert.equal(made.status, 200, made.text);
  theirs = made.json.data![0]! as typeof theirs;
  assert.match(theirs.imageURL, /^http:\/\/127\.0\.0\.1:\d+\/media\//);
});
after(async () => {
  await server?.stop();
});

test('the matrix covers every media place the task types list, and 30 places or more', () => {
  assert.ok(PLACES.length >= 30, String(PLACES.length));
  const covered = new Set(PLACES.map((p) => `${p.taskType} ${p.listed}`));
  for (const [taskType, paths] of Object.entries(MEDIA_INPUT_PATHS))
    for (const path of paths) assert.ok(covered.has(`${taskType} ${path}`), `${taskType} ${path} is in the matrix`);
  for (const p of PLACES) assert.ok(MEDIA_INPUT_PATHS[p.taskType]?.includes(p.listed), `${p.taskType} ${p.listed}`);
});

test('the other organization can use its own image in the same places (the values are media that resolve)', async () => {
  const before = await completedWork();
  for (const value of [theirs.imageUUID, theirs.imageURL]) {
    const task = {
      ...image({ inputs: { seedImage: value } }),
      model: 'runtrail:procedural@plasma-1',
      width: 64,
      height: 64,
    };
    const reply = await server.post([{ ...task, taskUUID: uuid() }], { key: otherKey });
    assert.equal(reply.status, 200, reply.text);
  }
  // Work runs on the pool: the counter the matrix watches does move when a task runs.
  assert.ok((await completedWork()) > before);
});

const VARIANTS: readonly { name: string; value: () => string }[] = [
  { name: 'a value of no media form', value: () => 'not-an-image' },
  { name: 'a UUID nobody uploaded', value: () => uuid() },
  { name: "the UUID of another organization's image", value: () => theirs.imageUUID },
  { name: "another organization's media URL", value: () => theirs.imageURL },
];

describe('every media place refuses bad, unknown and foreign media with its own code, before any work', () => {
  for (const place of PLACES) {
    test(`${place.taskType} ${place.parameter}`, async () => {
      const work = await completedWork();
      const media = await storedMediaNames(server.dataDir);
      for (const variant of VARIANTS) {
        const taskUUID = uuid();
        const reply = await server.post([{ ...place.task(variant.value()), taskUUID }]);
        const what = `${place.taskType} ${place.parameter}, ${variant.name}`;
        assertErrorEnvelope({ status: reply.status, headers: reply.headers }, reply.text, {
          status: 400,
          code: place.code,
          fields: { parameter: place.parameter, type: 'string', taskType: place.taskType, taskUUID },
        });
        const error = reply.json.errors![0]!;
        assert.deepEqual(
          Object.keys(error),
          ['code', 'message', 'parameter', 'type', 'documentation', 'taskType', 'taskUUID'],
          what,
        );
        const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
        assert.equal(details.status, 200, details.text);
        const recorded = details.json.data![0]! as { response: { errors: Item[] } };
        assert.deepEqual(recorded.response.errors, [error], `${what}: getTaskDetails returns the refusal`);
      }
      assert.equal(await completedWork(), work, `${place.taskType} ${place.parameter}: no work ran`);
      assert.deepEqual(await storedMediaNames(server.dataDir), media, 'no media was stored');
    });
  }
});

guardOpenHandles();
