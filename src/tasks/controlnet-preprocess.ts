// controlNetPreprocess (legacy imageControlNetPreProcess, which sdk-js sends): a guide image for
// ControlNet from a photo. The preprocessor comes from `model`
// (runware:controlnet-preprocess@<name> or a runtrail AIR) or the legacy `preProcessorType`.
// canny, tile, shuffle and openpose run here; Runware's others need networks no package ships
// and are refused naming the four.

import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { preprocessorOf } from '../engines/builtin/models/controlnet-preprocess.js';
import { PREPROCESSORS } from '../engines/builtin/ops/controlnet-preprocess.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import { OUTPUT_FORMATS, OUTPUT_TYPES, normalizeFormat } from './image-output.js';
import { inputImageOf, namedImageOutputFields, withImageParameter } from './named-image-output.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

/** Every preprocessor Runware names (legacy spelling). */
export const RUNWARE_PREPROCESSORS = [
  'canny',
  'depth',
  'mlsd',
  'normalbae',
  'openpose',
  'tile',
  'seg',
  'lineart',
  'lineart_anime',
  'shuffle',
  'scribble',
  'softedge',
] as const;

const Threshold = Type.Integer({ minimum: 0, maximum: 255 });
const Seed = Type.Integer({ minimum: 0, maximum: 4294967295 });
const Side = Type.Integer({ minimum: 64, maximum: 4096 });

const PreprocessParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.Optional(
    Type.String({
      pattern: AIR_PATTERN,
      'x-format-hint':
        "A model is named by its AIR, 'source:id@version' (for example 'runware:controlnet-preprocess@canny').",
    }),
  ),
  preProcessorType: Type.Optional(oneOf(RUNWARE_PREPROCESSORS)),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })) })),
  width: Type.Optional(Side),
  height: Type.Optional(Side),
  settings: Type.Optional(
    Type.Object(
      {
        lowThresholdCanny: Type.Optional(Threshold),
        highThresholdCanny: Type.Optional(Threshold),
        includeHandsAndFaceOpenPose: Type.Optional(Type.Boolean()),
        seed: Type.Optional(Seed),
      },
      // Closed: a setting outside this list answers unsupportedParameter (docs/protocol.md).
      { additionalProperties: false },
    ),
  ),
  lowThresholdCanny: Type.Optional(Threshold),
  highThresholdCanny: Type.Optional(Threshold),
  includeHandsAndFaceOpenPose: Type.Optional(Type.Boolean()),
  seed: Type.Optional(Seed),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(OUTPUT_FORMATS, true)),
  outputQuality: Type.Optional(Type.Integer({ minimum: 20, maximum: 99 })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof PreprocessParams>;
const validateParams = compileValidator(PreprocessParams);

const TASK_TYPE = 'controlNetPreprocess';
const HERE = `This server runs the preprocessors ${PREPROCESSORS.join(', ')} (models runware:controlnet-preprocess@<name>; see modelSearch).`;

/** The model a task names: `model`, or the Runware AIR of its legacy preProcessorType. */
function modelOf(p: Params): string | null {
  if (p.model !== undefined) return p.model;
  return p.preProcessorType !== undefined
    ? `runware:controlnet-preprocess@${p.preProcessorType.replace('_', '-')}`
    : null;
}

export const controlNetPreprocess: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: TASK_TYPE,
  parameters: schemaParameters(PreprocessParams),
  aliases: ['imageControlNetPreProcess'],
  validate(value) {
    const p = validateParams(value);
    inputImageOf(p);
    if (modelOf(p) === null) {
      throw new ProtocolError(
        'missingModel',
        { parameter: 'model', hint: "The legacy 'preProcessorType' is accepted instead." },
        { parameter: 'model', type: 'string' },
      );
    }
    const low = p.settings?.lowThresholdCanny ?? p.lowThresholdCanny;
    const high = p.settings?.highThresholdCanny ?? p.highThresholdCanny;
    if ((low ?? 100) > (high ?? 200)) {
      const parameter =
        p.settings?.lowThresholdCanny !== undefined ? 'settings.lowThresholdCanny' : 'lowThresholdCanny';
      throw new ProtocolError(
        'invalidLowThresholdCanny',
        { parameter, reason: `The low threshold (${low ?? 100}) must not exceed the high threshold (${high ?? 200}).` },
        { parameter, type: 'integer', min: 0, max: high ?? 200 },
      );
    }
    return p;
  },
  modelOf,
  prices: [{ model: '*', perItem: 0.0006 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const named = modelOf(p)!;
  const byLegacyName = p.model === undefined;
  let resolved;
  try {
    resolved = services.engines.require(TASK_TYPE, named);
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== 'unsupportedModel') throw err;
    throw byLegacyName
      ? new ProtocolError(
          'unsupportedPreProcessorType',
          { preprocessor: String(p.preProcessorType), hint: HERE },
          { parameter: 'preProcessorType', type: 'string', allowedValues: PREPROCESSORS },
        )
      : new ProtocolError(
          'unsupportedModel',
          { what: `model '${named.slice(0, 200)}' as a preprocessor`, hint: HERE },
          { parameter: 'model', type: 'string' },
        );
  }
  const { engine, model } = resolved;
  const preprocessor = preprocessorOf(model.air);
  if (!preprocessor) {
    throw new ProtocolError(
      'unsupportedModel',
      { what: `model '${named.slice(0, 200)}' as a preprocessor`, hint: HERE },
      { parameter: 'model', type: 'string' },
    );
  }
  const { parameter, source } = inputImageOf(p);
  const input = await services.imageInputs.resolve(org.id, parameter, source);
  const format = normalizeFormat(p.outputFormat);
  // Without a seed, shuffle derives one from the image, so the same request gives the same bytes.
  const seed = p.settings?.seed ?? p.seed ?? createHash('sha256').update(input.data).digest().readUInt32BE(0);

  const guide = async () => {
    const out = await engine
      .run('controlnet-preprocess', {
        image: input.data,
        preprocessor,
        ...(p.width !== undefined ? { width: p.width } : {}),
        ...(p.height !== undefined ? { height: p.height } : {}),
        lowThreshold: p.settings?.lowThresholdCanny ?? p.lowThresholdCanny ?? 100,
        highThreshold: p.settings?.highThresholdCanny ?? p.highThresholdCanny ?? 200,
        includeHandsAndFace: p.settings?.includeHandsAndFaceOpenPose ?? p.includeHandsAndFaceOpenPose ?? false,
        seed,
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
    const price = services.prices.perItem(TASK_TYPE, named);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      guideImageUUID: record.mediaUUID,
      ...namedImageOutputFields('guideImage', p.outputType ?? 'URL', services.media.urlOf(record), {
        data,
        format: out.format,
      }),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [record], cost: price };
  };
  return { engine: engine.name, results: [guide()] };
}
