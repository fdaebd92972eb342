// imageInference: text-to-image (and image-to-image with seedImage) on the configured engines.
// Parameters and ranges follow Runware's API reference; width/height start at 64 so tiny renders work
// (docs/protocol.md records the decision); the model's own rules (src/validation) narrow them.
// Parameters the built-in engine has no use for (steps, CFGScale, scheduler, lora, …) are
// validated and recorded, then unused: docs/protocol.md lists what the renderer honours. Every image is
// one `procedural-render` operation on the engine's thread pool; the prompt's test switches
// ([slow:MS], [fail], [fail:I]) act on the main thread around it (they wait, they do not compute).
// With a safety check asked for (safety-check.ts), each image is also classified by the
// `classify-nsfw` operation and its result carries NSFWContent. A model of an operator engine
// runs there instead: the OpenAI-compatible images endpoint, or a ComfyUI workflow filled from
// the parameters (docs/engines.md); its image is stored and served like the built-in ones.

import { randomInt } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { exactSeed } from '../protocol/source-integers.js';
import type { ImageFormat } from '../media/media-store.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { asBuffer, type EncodedImage } from '../engines/builtin/operation.js';
import { OPENAI_COMPATIBLE_ENGINE } from '../engines/openai-compatible/openai-compatible-engine.js';
import { COMFYUI_ENGINE } from '../engines/comfyui/comfyui-engine.js';
import { readTestSwitches, withTestSwitches } from '../engines/builtin/test-switches.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, imageOutputFields, normalizeFormat } from './image-output.js';
import { SafetyParam, nsfwNetworkFor } from './safety-check.js';
import { mediaInputsOf, resolveMediaInputs } from '../validation/media-inputs.js';

const Dimension = Type.Integer({ minimum: 64, maximum: 2048, multipleOf: 64 });
const AdapterList = Type.Array(
  Type.Object({
    model: Type.String({ pattern: AIR_PATTERN }),
    weight: Type.Optional(Type.Number({ minimum: -4, maximum: 4 })),
  }),
  { maxItems: 10 },
);

const ImageInferenceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  positivePrompt: Type.String({ minLength: 2, maxLength: 3000 }),
  negativePrompt: Type.Optional(Type.String({ minLength: 2, maxLength: 3000 })),
  model: Type.String({
    pattern: AIR_PATTERN,
    'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:101@1').",
  }),
  width: Dimension,
  height: Dimension,
  steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  CFGScale: Type.Optional(Type.Number({ minimum: 0, maximum: 50 })),
  scheduler: Type.Optional(Type.String({ maxLength: 100 })),
  seed: Type.Optional(Type.Integer({ minimum: 1, maximum: 9223372036854776000 })),
  clipSkip: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
  numberResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  seedImage: Type.Optional(Type.String({ minLength: 1 })),
  maskImage: Type.Optional(Type.String({ minLength: 1 })),
  strength: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(OUTPUT_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
  checkNSFW: Type.Optional(Type.Boolean()),
  safety: Type.Optional(SafetyParam),
  ttl: Type.Optional(Type.Integer({ minimum: 60 })),
  lora: Type.Optional(AdapterList),
  embeddings: Type.Optional(AdapterList),
  vae: Type.Optional(Type.String({ pattern: AIR_PATTERN })),
  // Media lists: their sizes are the model's rules, their elements' forms media-inputs.ts's.
  referenceImages: Type.Optional(Type.Array(Type.Unknown())),
  inputs: Type.Optional(
    Type.Object({
      seedImage: Type.Optional(Type.String({ minLength: 1 })),
      maskImage: Type.Optional(Type.String({ minLength: 1 })),
      referenceImages: Type.Optional(Type.Array(Type.Unknown())),
    }),
  ),
  controlNet: Type.Optional(
    Type.Array(
      Type.Object({
        model: Type.Optional(Type.String({ pattern: AIR_PATTERN })),
        guideImage: Type.String({ minLength: 1 }),
        weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        startStep: Type.Optional(Type.Integer({ minimum: 1 })),
        startStepPercentage: Type.Optional(Type.Integer({ minimum: 0, maximum: 99 })),
        endStep: Type.Optional(Type.Integer({ minimum: 1 })),
        endStepPercentage: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        controlMode: Type.Optional(oneOf(['prompt', 'controlnet', 'balanced'] as const)),
      }),
      { maxItems: 10 },
    ),
  ),
  ipAdapters: Type.Optional(
    Type.Array(
      Type.Object({
        model: Type.String({ pattern: AIR_PATTERN }),
        guideImage: Type.Optional(Type.String({ minLength: 1 })),
        guideImages: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10 })),
        weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
      }),
      { maxItems: 10 },
    ),
  ),
});

type Params = Static<typeof ImageInferenceParams>;

const validateParams = compileValidator(ImageInferenceParams);

export const imageInference: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'imageInference',
  parameters: schemaParameters(ImageInferenceParams),
  validate: validateParams,
  modelOf: (p) => p.model,
  prices: [{ model: '*', perItem: 0.0013 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require('imageInference', p.model);
  const count = p.numberResults ?? 1;
  // Seeds count in BigInt: above 2^53, `seed + i` in floating point would repeat a seed (and an
  // image). Items carry such seeds as exact JSON integers (protocol/envelope.ts serializeItem).
  const firstSeed = exactSeed(call.requestText, p.seed) ?? BigInt(randomInt(1, 2 ** 31));
  const format: ImageFormat = normalizeFormat(p.outputFormat);
  // Every media input resolves before any work: the renderer blends only the seed image, but an
  // unreadable mask, reference or guide image fails the task as it would at Runware.
  const media = await resolveMediaInputs(services.imageInputs, org.id, mediaInputsOf('imageInference', p));
  const base = media.get('inputs.seedImage') ?? media.get('seedImage');
  const perItem = services.prices.perItem('imageInference', p.model);
  const operator = engine.name === OPENAI_COMPATIBLE_ENGINE || engine.name === COMFYUI_ENGINE;
  // The test switches belong to the built-in renderer; an operator engine gets the prompt as written.
  const switches = operator ? undefined : readTestSwitches(p.positivePrompt);
  const nsfwNetwork = nsfwNetworkFor(p);

  const renderOne = async (index: number): Promise<ItemResult> => {
    const seed = firstSeed + BigInt(index);
    // The renderer's own progress, for queued tasks (the test switches report theirs instead).
    const onProgress = call.onProgress;
    const progress = onProgress && !switches ? { onProgress: (percent: number) => onProgress(index, percent) } : {};
    const task = { orgId: org.id, taskUUID: call.taskUUID };
    const render = (): Promise<EncodedImage> => {
      if (engine.name === OPENAI_COMPATIBLE_ENGINE) {
        return engine.run(
          'image-generation',
          {
            model: model.engineModel ?? model.air,
            prompt: p.positivePrompt,
            ...(p.negativePrompt !== undefined ? { negativePrompt: p.negativePrompt } : {}),
            width: p.width,
            height: p.height,
            seed: Number(seed % BigInt(2 ** 32)),
            ...(p.steps !== undefined ? { steps: p.steps } : {}),
            format,
            quality: p.outputQuality ?? 95,
          },
          { ...progress, task },
        );
      }
      if (engine.name === COMFYUI_ENGINE) {
        return engine.run(
          'comfy-workflow',
          {
            air: model.air,
            values: {
              positivePrompt: p.positivePrompt,
              negativePrompt: p.negativePrompt,
              width: p.width,
              height: p.height,
              steps: p.steps,
              CFGScale: p.CFGScale,
              // ComfyUI's samplers take seeds below 2^64; Runware's fit.
              seed: Number(seed % BigInt(Number.MAX_SAFE_INTEGER)),
              scheduler: p.scheduler,
              strength: base ? (p.strength ?? 0.8) : undefined,
            },
            ...(base ? { seedImage: base.data } : {}),
            format,
            quality: p.outputQuality ?? 95,
          },
          { ...progress, task },
        );
      }
      return engine.run(
        'procedural-render',
        {
          width: p.width,
          height: p.height,
          seed,
          model: p.model,
          prompt: p.positivePrompt,
          format,
          quality: p.outputQuality ?? 95,
          ...(base ? { base: { image: base.data, strength: p.strength ?? 0.8 } } : {}),
        },
        progress,
      );
    };
    const image = switches ? await withTestSwitches(switches, index, call.onProgress, render) : await render();
    // Classified before it is saved: a failed check fails the result and leaves no stray file.
    const verdict = nsfwNetwork
      ? await engine.run('classify-nsfw', { image: image.image, network: nsfwNetwork })
      : undefined;
    const record = await services.media.save(org.id, call.taskUUID, {
      data: asBuffer(image.image),
      format: image.format,
      width: image.width,
      height: image.height,
    });
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      imageUUID: record.mediaUUID,
      ...imageOutputFields(p.outputType ?? 'URL', services.media.urlOf(record), {
        data: asBuffer(image.image),
        format: image.format,
      }),
      seed: seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seed) : seed,
      ...(verdict ? { NSFWContent: verdict.nsfw } : {}),
      ...(p.includeCost ? { cost: perItem } : {}),
    };
    return { item, media: [record], cost: perItem };
  };
  // Each image is its own result, recorded as soon as it is ready; one failing image fails only itself.
  return { engine: engine.name, results: Array.from({ length: count }, (_, i) => renderOne(i)) };
}
