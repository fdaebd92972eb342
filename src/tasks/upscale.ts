// upscale (legacy name imageUpscale): enlarges an image by `upscaleFactor` (2–4). Outputs are
// capped at 4096×4096 (docs/protocol.md, task types): a larger result shrinks the input first, so the
// output is always (shrunk input) × factor. `model` is optional; the engines' model map says what
// runs for it: the Lanczos resampler (`lanczos-upscale`, both steps in one pass) for no model and
// most AIRs, or ESRGAN (`upscale-esrgan`: factors 2 and 4, a bounded input) for runtrail:esrgan@slim
// and Runware's learned upscalers. Both run on the engine's thread pool.

import sharp from 'sharp';
import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import type { ImageFormat } from '../media/media-store.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, imageOutputFields, normalizeFormat } from './image-output.js';
import { ESRGAN_SLIM } from '../engines/builtin/models/esrgan.js';
import { checkEsrganInput, namedAs } from './upscale-esrgan-input.js';

const UpscaleParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })) })),
  upscaleFactor: Type.Integer({ minimum: 2, maximum: 4 }),
  model: Type.Optional(
    Type.String({
      pattern: AIR_PATTERN,
      'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:503@1').",
    }),
  ),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(OUTPUT_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof UpscaleParams>;

const validateParams = compileValidator(UpscaleParams);

/** Largest output side (docs/protocol.md, task types). */
export const MAX_OUTPUT_SIDE = 4096;

export const upscale: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'upscale',
  parameters: schemaParameters(UpscaleParams),
  aliases: ['imageUpscale'],
  validate(value) {
    if (hasVideoInput(value)) {
      throw new ProtocolError(
        'unsupportedParameter',
        {
          feature: 'Video input',
          hint: "It upscales images only ('inputImage' or 'inputs.image'); 'inputs.video' cannot be used.",
        },
        {
          parameter: 'inputs.video',
          type: 'string',
        },
      );
    }
    const params = validateParams(value);
    if (params.inputImage === undefined && params.inputs?.image === undefined) {
      throw new ProtocolError(
        'missingInputImage',
        { parameter: 'inputImage' },
        { parameter: 'inputImage', type: 'string' },
      );
    }
    return params;
  },
  modelOf: (p) => p.model ?? null,
  prices: [{ model: '*', perItem: 0.0006 }],
  run,
};

function hasVideoInput(value: unknown): boolean {
  const inputs = (value as { inputs?: unknown } | null)?.inputs;
  return typeof inputs === 'object' && inputs !== null && (inputs as { video?: unknown }).video !== undefined;
}

/** The output size for an input of `width`×`height`: the input, shrunk to fit the cap if needed, times the factor. */
export function upscaledSize(width: number, height: number, factor: number): { width: number; height: number } {
  const shrink = Math.min(1, MAX_OUTPUT_SIDE / (width * factor), MAX_OUTPUT_SIDE / (height * factor));
  return {
    width: Math.max(1, Math.floor(width * shrink)) * factor,
    height: Math.max(1, Math.floor(height * shrink)) * factor,
  };
}

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require('upscale', p.model ?? null);
  const learned = model.air === ESRGAN_SLIM;
  const [parameter, source] =
    p.inputImage !== undefined ? ['inputImage', p.inputImage] : ['inputs.image', p.inputs!.image!];
  const input = await services.imageInputs.resolve(org.id, parameter, source);
  // EXIF orientations 5–8 swap the sides once the image is turned upright.
  const { orientation } = await sharp(input.data).metadata();
  const upright = orientation !== undefined && orientation >= 5 ? { width: input.height, height: input.width } : input;
  const size = upscaledSize(upright.width, upright.height, p.upscaleFactor);
  const format: ImageFormat = normalizeFormat(p.outputFormat);
  if (learned) checkEsrganInput(p.upscaleFactor, upright, parameter);

  const upscaled = async () => {
    const quality = p.outputQuality ?? 95;
    const out = learned
      ? await engine
          .run(
            'upscale-esrgan',
            { image: input.data, factor: p.upscaleFactor as 2 | 4, format, quality },
            { onProgress: (percent) => call.onProgress?.(0, percent) },
          )
          .catch((err: unknown) => {
            throw namedAs(err, parameter);
          })
      : await engine.run('lanczos-upscale', { image: input.data, ...size, format, quality });
    const data = asBuffer(out.image);
    const record = await services.media.save(org.id, call.taskUUID, {
      data,
      format: out.format,
      width: out.width,
      height: out.height,
    });
    const price = services.prices.perItem('upscale', p.model ?? null);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      imageUUID: record.mediaUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      ...imageOutputFields(p.outputType ?? 'URL', services.media.urlOf(record), { data, format: out.format }),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [record], cost: price };
  };
  return { engine: engine.name, results: [upscaled()] };
}
