// videoInference: asynchronous only, as Runware runs it (a sync request is refused before it is
// queued, see dispatch.ts). The built-in engine animates the key images the task names
// (`frameImages`, `inputs.frameImages`, `inputs.image(s)`) with zoom, pan and cross-fades, or
// without images the procedural renderer, and ffmpeg encodes MP4 | WEBM | MOV. Ranges follow
// Runware's generic ones: duration 1–10 s, fps 15–60, width 256–1920 and height 256–1080 in
// multiples of 8. Parameters it has no use for (steps, CFGScale, referenceImages, safety, …) are
// recorded and ignored (docs/engines.md says so).

import { randomInt } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { exactSeed } from '../protocol/source-integers.js';
import { ProtocolError } from '../protocol/errors.js';
import { asBuffer } from '../engines/builtin/operation.js';
import type { VideoKeyImage } from '../engines/builtin/ops/encode-video.js';
import type { VideoFormat } from '../media/media-store.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import { OUTPUT_TYPES } from './image-output.js';
import { mediaOutputFields, seedValue } from './media-output.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { mediaInputsOf, resolveMediaInputs } from '../validation/media-inputs.js';

export const VIDEO_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
const MAX_KEY_IMAGES = 8;

const FrameImage = Type.Object({
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  image: Type.Optional(Type.String({ minLength: 1 })),
  frame: Type.Optional(Type.Unknown()),
});

const VideoInferenceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.String({ pattern: AIR_PATTERN }),
  positivePrompt: Type.String({ minLength: 2, maxLength: 3000 }),
  negativePrompt: Type.Optional(Type.String({ minLength: 2, maxLength: 3000 })),
  duration: Type.Number({ minimum: 1, maximum: 10 }),
  fps: Type.Optional(Type.Integer({ minimum: 15, maximum: 60 })),
  width: Type.Optional(Type.Integer({ minimum: 256, maximum: 1920, multipleOf: 8 })),
  height: Type.Optional(Type.Integer({ minimum: 256, maximum: 1080, multipleOf: 8 })),
  steps: Type.Optional(Type.Integer({ minimum: 10, maximum: 50 })),
  CFGScale: Type.Optional(Type.Number({ minimum: 0, maximum: 50 })),
  seed: Type.Optional(Type.Integer({ minimum: 1, maximum: 9223372036854776000 })),
  numberResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  frameImages: Type.Optional(Type.Array(FrameImage, { minItems: 1, maxItems: MAX_KEY_IMAGES })),
  inputs: Type.Optional(
    Type.Object({
      frameImages: Type.Optional(Type.Array(FrameImage, { minItems: 1, maxItems: MAX_KEY_IMAGES })),
      image: Type.Optional(Type.String({ minLength: 1 })),
      images: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: MAX_KEY_IMAGES })),
    }),
  ),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(VIDEO_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
  ttl: Type.Optional(Type.Integer({ minimum: 60 })),
});

type Params = Static<typeof VideoInferenceParams>;

const validateParams = compileValidator(VideoInferenceParams);

interface KeySource {
  parameter: string;
  source: string;
  frame?: 'first' | 'last' | number;
}

export const videoInference: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'videoInference',
  parameters: schemaParameters(VideoInferenceParams),
  deliveries: ['async'],
  validate(value) {
    const p = validateParams(value);
    keySources(p); // frame positions are checked before the task is queued
    return p;
  },
  modelOf: (p) => p.model,
  prices: [{ model: '*', perItem: 0.002 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require('videoInference', p.model);
  const keys = keySources(p);
  // Every media input resolves before any work, reference images too (the animator draws only
  // the key images, but an unreadable reference fails the task as it would at Runware).
  const media = await resolveMediaInputs(services.imageInputs, org.id, mediaInputsOf('videoInference', p));
  const images: VideoKeyImage[] = keys.map((k) => {
    const decoded = media.get(k.parameter);
    if (!decoded) throw new Error(`key image ${k.parameter} was not among the resolved media inputs`);
    return k.frame === undefined ? { image: decoded.data } : { image: decoded.data, frame: k.frame };
  });
  const count = p.numberResults ?? 1;
  const firstSeed = exactSeed(call.requestText, p.seed) ?? BigInt(randomInt(1, 2 ** 31));
  const format = (p.outputFormat ?? 'MP4').toLowerCase() as VideoFormat;
  const width = p.width ?? model.defaultWidth;
  const height = p.height ?? model.defaultHeight;
  const perItem = services.prices.perItem('videoInference', p.model);

  const produce = async (index: number): Promise<ItemResult> => {
    const seed = firstSeed + BigInt(index);
    const onProgress = call.onProgress;
    const progress = onProgress ? { onProgress: (percent: number) => onProgress(index, percent) } : {};
    const out = await engine.run(
      'encode-video',
      {
        width,
        height,
        fps: p.fps ?? 24,
        duration: p.duration,
        format,
        quality: p.outputQuality ?? 85,
        seed,
        model: p.model,
        prompt: p.positivePrompt,
        images,
      },
      progress,
    );
    const data = asBuffer(out.video);
    const record = await services.media.save(org.id, call.taskUUID, {
      data,
      format: out.format,
      width: out.width,
      height: out.height,
    });
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      videoUUID: record.mediaUUID,
      ...mediaOutputFields('video', p.outputType ?? 'URL', services.media.urlOf(record), { data, format: out.format }),
      seed: seedValue(seed),
      ...(p.includeCost ? { cost: perItem } : {}),
    };
    return { item, media: [record], cost: perItem };
  };
  return { engine: engine.name, results: Array.from({ length: count }, (_, i) => produce(i)) };
}

/** The key images in the order the task lists them, each with the parameter that names it. */
function keySources(p: Params): KeySource[] {
  const out: KeySource[] = [];
  const framed = (list: Static<typeof FrameImage>[], at: string) =>
    list.forEach((f, i) => {
      const [name, source] = f.inputImage !== undefined ? ['inputImage', f.inputImage] : ['image', f.image];
      if (source === undefined) {
        throw new ProtocolError(
          'missingInputImage',
          { parameter: `${at}.${i}.inputImage` },
          {
            parameter: `${at}.${i}.inputImage`,
            type: 'string',
          },
        );
      }
      const frame = framePosition(f.frame, `${at}.${i}.frame`);
      out.push({ parameter: `${at}.${i}.${name}`, source, ...(frame === undefined ? {} : { frame }) });
    });
  if (p.frameImages) framed(p.frameImages, 'frameImages');
  if (p.inputs?.frameImages) framed(p.inputs.frameImages, 'inputs.frameImages');
  if (p.inputs?.image !== undefined) out.push({ parameter: 'inputs.image', source: p.inputs.image });
  p.inputs?.images?.forEach((source, i) => out.push({ parameter: `inputs.images.${i}`, source }));
  if (out.length > MAX_KEY_IMAGES) {
    throw new ProtocolError(
      'invalidFrameImagesCount',
      {
        name: 'frameImages',
        reason: `A video takes at most ${MAX_KEY_IMAGES} key images here; this task names ${out.length}.`,
      },
      {
        parameter: 'frameImages',
        type: 'array',
        max: MAX_KEY_IMAGES,
      },
    );
  }
  return out;
}

function framePosition(value: unknown, parameter: string): 'first' | 'last' | number | undefined {
  if (value === undefined || value === 'first' || value === 'last') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new ProtocolError(
    'invalidFrame',
    { parameter, reason: 'It must be "first", "last" or a frame number (an integer of at least 0).' },
    {
      parameter,
      type: 'string',
      allowedValues: ['first', 'last'],
    },
  );
}
