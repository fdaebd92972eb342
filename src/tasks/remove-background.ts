// removeBackground (legacy name imageBackgroundRemoval): cuts the main object out of an image.
// The settings (`rgba`, `postProcessMask`, `returnOnlyMask`, `alphaMatting` and its three
// thresholds) are read from `settings` and, as the legacy task and older clients send them, from
// the task root; `settings` wins where both are given. The default output is a transparent PNG.
// Runware's background-removal AIRs run on the ISNet model through the engines' model map
// (docs/engines.md); a task naming no model gets ISNet directly.

import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { ISNET_MODEL_AIR } from '../engines/builtin/ops/remove-background.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, imageOutputFields, normalizeFormat } from './image-output.js';
import { imageInputOf, operationErrorFor } from './image-input-params.js';

const threshold = () => Type.Integer({ minimum: 1, maximum: 255 });

/** The settings, wherever they appear (under `settings`, or at the task root). */
const settingFields = {
  rgba: Type.Optional(
    Type.Tuple([
      Type.Integer({ minimum: 0, maximum: 255 }),
      Type.Integer({ minimum: 0, maximum: 255 }),
      Type.Integer({ minimum: 0, maximum: 255 }),
      Type.Number({ minimum: 0, maximum: 1 }),
    ]),
  ),
  postProcessMask: Type.Optional(Type.Boolean()),
  returnOnlyMask: Type.Optional(Type.Boolean()),
  alphaMatting: Type.Optional(Type.Boolean()),
  alphaMattingForegroundThreshold: Type.Optional(threshold()),
  alphaMattingBackgroundThreshold: Type.Optional(threshold()),
  alphaMattingErodeSize: Type.Optional(threshold()),
};

const RemoveBackgroundParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(
    Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })), video: Type.Optional(Type.Unknown()) }),
  ),
  model: Type.Optional(
    Type.String({
      pattern: AIR_PATTERN,
      'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:109@1').",
    }),
  ),
  settings: Type.Optional(Type.Object(settingFields, { additionalProperties: false })),
  ...settingFields,
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(OUTPUT_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof RemoveBackgroundParams>;

const validateParams = compileValidator(RemoveBackgroundParams);

/** Runware's defaults for the alpha matting thresholds. */
const MATTING_DEFAULTS = { foreground: 240, background: 10, erode: 10 };

export const removeBackground: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'removeBackground',
  parameters: schemaParameters(RemoveBackgroundParams),
  aliases: ['imageBackgroundRemoval'],
  validate(value) {
    const params = validateParams(value);
    if (params.inputs?.video !== undefined) {
      throw new ProtocolError(
        'unsupportedParameter',
        {
          feature: 'Video background removal',
          hint: "'inputs.video' cannot be used: send an image in 'inputs.image'.",
        },
        { parameter: 'inputs.video' },
      );
    }
    imageInputOf(params); // a missing image is a validation error like any other parameter's
    return params;
  },
  modelOf: (p) => p.model ?? null,
  prices: [{ model: '*', perItem: 0.0006 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine } = services.engines.require('removeBackground', p.model ?? ISNET_MODEL_AIR);
  const { parameter, source } = imageInputOf(p);
  const input = await services.imageInputs.resolve(org.id, parameter, source);
  const settings = { ...rootSettings(p), ...p.settings };
  const format = normalizeFormat(p.outputFormat ?? 'PNG');

  const cutout = async () => {
    const out = await engine
      .run(
        'remove-background',
        {
          image: input.data,
          returnOnlyMask: settings.returnOnlyMask ?? false,
          postProcessMask: settings.postProcessMask ?? false,
          alphaMatting: settings.alphaMatting
            ? {
                foregroundThreshold: settings.alphaMattingForegroundThreshold ?? MATTING_DEFAULTS.foreground,
                backgroundThreshold: settings.alphaMattingBackgroundThreshold ?? MATTING_DEFAULTS.background,
                erodeSize: settings.alphaMattingErodeSize ?? MATTING_DEFAULTS.erode,
              }
            : null,
          background: settings.rgba ?? null,
          format,
          quality: p.outputQuality ?? 95,
        },
        { onProgress: (percent) => call.onProgress?.(0, percent) },
      )
      .catch((err: unknown) => {
        throw operationErrorFor(err, parameter);
      });
    const data = asBuffer(out.image);
    const record = await services.media.save(org.id, call.taskUUID, {
      data,
      format,
      width: out.width,
      height: out.height,
    });
    const price = services.prices.perItem('removeBackground', p.model ?? null);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      imageUUID: record.mediaUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      ...imageOutputFields(p.outputType ?? 'URL', services.media.urlOf(record), { data, format }),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [record], cost: price };
  };
  return { engine: engine.name, results: [cutout()] };
}

/** The settings given at the task root (the legacy task's place for them). */
function rootSettings(p: Params): NonNullable<Params['settings']> {
  const out: NonNullable<Params['settings']> = {};
  for (const key of Object.keys(settingFields) as (keyof typeof settingFields)[]) {
    if (p[key] !== undefined) (out as Record<string, unknown>)[key] = p[key];
  }
  return out;
}
