// imageMasking: a black-and-white mask over the faces, face parts, hands or persons the model
// names finds, with their boxes (`detections`). The model (runware:35@1–@15 or a runtrail AIR)
// picks what is masked through the engines' model map; settings may also sit at the task root,
// as older clients send them.

import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { maskTargetOf } from '../engines/builtin/models/image-masking.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, normalizeFormat } from './image-output.js';
import { inputImageOf, namedImageOutputFields, withImageParameter } from './named-image-output.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

const Confidence = Type.Number({ minimum: 0, maximum: 1 });
const MaxDetections = Type.Integer({ minimum: 1, maximum: 20 });
const MaskPadding = Type.Integer({ minimum: -1024, maximum: 1024 });
const MaskBlur = Type.Integer({ minimum: 0, maximum: 256 });

const MaskingParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.String({
    pattern: AIR_PATTERN,
    'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:35@8').",
  }),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })) })),
  settings: Type.Optional(
    Type.Object(
      {
        confidence: Type.Optional(Confidence),
        maxDetections: Type.Optional(MaxDetections),
        maskPadding: Type.Optional(MaskPadding),
        maskBlur: Type.Optional(MaskBlur),
      },
      // Closed: a setting outside Runware's list answers unsupportedParameter (docs/protocol.md).
      { additionalProperties: false },
    ),
  ),
  confidence: Type.Optional(Confidence),
  maxDetections: Type.Optional(MaxDetections),
  maskPadding: Type.Optional(MaskPadding),
  maskBlur: Type.Optional(MaskBlur),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(OUTPUT_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof MaskingParams>;
const validateParams = compileValidator(MaskingParams);

/** Runware's defaults. */
export const MASKING_DEFAULTS = { confidence: 0.25, maxDetections: 6, maskPadding: 4, maskBlur: 4 } as const;

export const imageMasking: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'imageMasking',
  parameters: schemaParameters(MaskingParams),
  validate(value) {
    const params = validateParams(value);
    inputImageOf(params);
    return params;
  },
  modelOf: (p) => p.model,
  prices: [{ model: '*', perItem: 0.0006 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require('imageMasking', p.model);
  const target = maskTargetOf(model.air);
  if (!target)
    throw new ProtocolError(
      'unsupportedModel',
      { what: `model '${p.model}' to draw masks` },
      { parameter: 'model', type: 'string' },
    );
  const { parameter, source } = inputImageOf(p);
  const input = await services.imageInputs.resolve(org.id, parameter, source);
  const format = normalizeFormat(p.outputFormat);
  const setting = (key: keyof typeof MASKING_DEFAULTS): number => p.settings?.[key] ?? p[key] ?? MASKING_DEFAULTS[key];

  const masked = async () => {
    const out = await engine
      .run('image-masking', {
        image: input.data,
        target,
        confidence: setting('confidence'),
        maxDetections: setting('maxDetections'),
        maskPadding: setting('maskPadding'),
        maskBlur: setting('maskBlur'),
        format,
        quality: p.outputQuality ?? 95,
      })
      .catch((err: unknown) => {
        throw withImageParameter(err, parameter);
      });
    const data = asBuffer(out.image);
    const record = await services.media.save(org.id, call.taskUUID, {
      data,
      format: out.format,
      width: out.width,
      height: out.height,
    });
    const price = services.prices.perItem('imageMasking', p.model);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      maskImageUUID: record.mediaUUID,
      detections: out.detections,
      ...namedImageOutputFields('maskImage', p.outputType ?? 'URL', services.media.urlOf(record), {
        data,
        format: out.format,
      }),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [record], cost: price };
  };
  return { engine: engine.name, results: [masked()] };
}
