// imageInference: text-to-image (and image-to-image with seedImage) on the configured engines.
// Parameters and ranges follow PROTOCOL.md §8.1; width/height start at 64 so tiny renders work
// (docs/protocol.md records the decision). Parameters the built-in engine has no use for
// (steps, CFGScale, scheduler, lora, …) are validated and recorded, then ignored.

import { randomInt } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { exactSeed } from '../protocol/source-integers.js';
import type { ImageFormat } from '../media/media-store.js';
import { AIR_PATTERN, compileValidator, oneOf } from './validate.js';
import { resultError, type ItemResult, type RecordedTaskModule, type TaskCall, type TaskResult } from './task-module.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, imageOutputFields, normalizeFormat } from './image-output.js';

const Dimension = Type.Integer({ minimum: 64, maximum: 2048, multipleOf: 64 });
const AdapterList = Type.Array(
  Type.Object({ model: Type.String({ pattern: AIR_PATTERN }), weight: Type.Optional(Type.Number({ minimum: -4, maximum: 4 })) }),
  { maxItems: 10 },
);

const ImageInferenceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  positivePrompt: Type.String({ minLength: 2, maxLength: 3000 }),
  negativePrompt: Type.Optional(Type.String({ minLength: 2, maxLength: 3000 })),
  model: Type.String({ pattern: AIR_PATTERN, 'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:101@1')." }),
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
  ttl: Type.Optional(Type.Integer({ minimum: 60 })),
  lora: Type.Optional(AdapterList),
  embeddings: Type.Optional(AdapterList),
  vae: Type.Optional(Type.String({ pattern: AIR_PATTERN })),
});

type Params = Static<typeof ImageInferenceParams>;

const validateParams = compileValidator(ImageInferenceParams);

export const imageInference: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'imageInference',
  validate: validateParams,
  modelOf: (p) => p.model,
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskResult> {
  const { params: p, services, org } = call;
  const engine = services.engines.forModel('imageInference', p.model);
  if (!engine) {
    throw new ProtocolError('unsupportedModel', `No engine on this server serves model '${p.model}'.`, {
      parameter: 'model',
      type: 'string',
    });
  }
  const count = p.numberResults ?? 1;
  // Seeds count in BigInt: above 2^53, `seed + i` in floating point would repeat a seed (and an
  // image). Items carry such seeds as exact JSON integers (protocol/envelope.ts serializeItem).
  const firstSeed = exactSeed(call.requestText, p.seed) ?? BigInt(randomInt(1, 2 ** 31));
  const seeds = Array.from({ length: count }, (_, i) => firstSeed + BigInt(i));
  const format: ImageFormat = normalizeFormat(p.outputFormat);
  const base = p.seedImage ? await services.imageInputs.resolve(org.id, 'seedImage', p.seedImage) : undefined;

  const perItem = services.prices.perItem('imageInference', p.model);
  const rendering = engine.generateImages({
    taskUUID: call.taskUUID,
    model: p.model,
    positivePrompt: p.positivePrompt,
    negativePrompt: p.negativePrompt,
    width: p.width,
    height: p.height,
    seeds,
    format,
    quality: p.outputQuality ?? 95,
    baseImage: base ? { data: base.data, strength: p.strength ?? 0.8 } : undefined,
    onProgress: call.onProgress,
  });

  // Each image becomes its result as soon as it is ready; one failing image fails only itself.
  const results: ItemResult[] = await Promise.all(
    rendering.map(async (pending, i) => {
      let result: ItemResult;
      try {
        const image = await pending;
        const record = await services.media.save(org.id, call.taskUUID, image);
        const item = {
          taskType: call.taskType,
          taskUUID: call.taskUUID,
          imageUUID: record.mediaUUID,
          ...imageOutputFields(p.outputType ?? 'URL', services.media.urlOf(record), image),
          seed: image.seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(image.seed) : image.seed,
          ...(p.includeCost ? { cost: perItem } : {}),
        };
        result = { item, media: [record] };
      } catch (err) {
        result = { error: resultError(err, call) };
      }
      await call.onResult?.(i, result);
      return result;
    }),
  );

  const produced = results.filter((r) => 'item' in r);
  return {
    items: produced.map((r) => r.item),
    errors: results.flatMap((r) => ('error' in r ? [r.error] : [])),
    cost: round(perItem * produced.length),
    engine: engine.name,
    media: produced.flatMap((r) => r.media),
  };
}

function round(usd: number): number {
  return Math.round(usd * 1e8) / 1e8;
}
