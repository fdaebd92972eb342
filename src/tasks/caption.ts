// caption (legacy imageCaption): Runware's age-detection models run built in, answering
// `structuredData` from Human's FaceRes face description model (a different network from
// Runware's age classifiers; modelSearch and docs/engines.md say so). Descriptive captions need a
// vision-language model that no npm or Debian package ships: they run on the operator's
// OpenAI-compatible engine when it has one (the image sent as an image_url content part), and are
// refused otherwise, naming the models this server runs.

import { Type, type Static } from '@sinclair/typebox';
import sharp from 'sharp';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { RUNWARE_AGE_MODELS } from '../engines/builtin/models/caption.js';
import type { FaceAge } from '../engines/builtin/ops/age-estimate.js';
import { AIR_PATTERN, compileValidator, schemaParameters } from './validate.js';
import { inputImageOf, withImageParameter } from './named-image-output.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import type { ResolvedModel } from '../engines/engine.js';
import { OPENAI_COMPATIBLE_ENGINE } from '../engines/openai-compatible/openai-compatible-engine.js';

const CaptionParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.Optional(
    Type.String({
      pattern: AIR_PATTERN,
      'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'runware:153@1').",
    }),
  ),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })) })),
  prompt: Type.Optional(Type.String({ maxLength: 3000 })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof CaptionParams>;
const validateParams = compileValidator(CaptionParams);

const TASK_TYPE = 'caption';
const NO_TEXT = `Descriptive captions need a vision-language model, and none runs on this server. It runs the age-detection models ${RUNWARE_AGE_MODELS.join(', ')} (structuredData with ageGroup and confidence; see modelSearch).`;

/** Age groups, as Runware's vit-age-classifier names them: [first year, last year, label]. */
export const AGE_GROUPS: readonly [number, number, string][] = [
  [0, 2, '0-2'],
  [3, 9, '3-9'],
  [10, 19, '10-19'],
  [20, 29, '20-29'],
  [30, 39, '30-39'],
  [40, 49, '40-49'],
  [50, 59, '50-59'],
  [60, 69, '60-69'],
  [70, Infinity, 'more than 70'],
];
/** FaceRes's typical error in years: the spread of the age it gives, for the confidence. */
export const AGE_ERROR_YEARS = 5;

export interface AgeGroupAnswer {
  ageGroup: string;
  /** Percent: how much of a normal spread (AGE_ERROR_YEARS) around the estimate lies in the group. */
  confidence: number;
  age: number;
}

/** An estimated age as its group, with how sure the estimate is of that group. */
export function ageGroupOf(age: number): AgeGroupAnswer {
  const years = Math.max(0, age);
  const [first, last, label] = AGE_GROUPS.find(([, last]) => years < last + 1) ?? AGE_GROUPS[AGE_GROUPS.length - 1]!;
  const below = (x: number) => (x === Infinity ? 1 : normalCdf((x - years) / AGE_ERROR_YEARS));
  const share = below(last + 1) - (first === 0 ? 0 : below(first));
  return { ageGroup: label, confidence: Math.round(share * 10000) / 100, age: Math.round(years * 10) / 10 };
}

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 erf, accurate to 1.5e-7: plenty for a percentage.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The answer for a photo: the largest face's group at the top, every face in `faces`. */
export function ageStructuredData(faces: readonly FaceAge[], width: number, height: number): Record<string, unknown> {
  const each = faces.map((f) => ({
    ...ageGroupOf(f.age),
    box: {
      x_min: Math.max(0, Math.round(f.box[0])),
      y_min: Math.max(0, Math.round(f.box[1])),
      x_max: Math.min(width, Math.round(f.box[0] + f.box[2])),
      y_max: Math.min(height, Math.round(f.box[1] + f.box[3])),
    },
  }));
  const main = each[0];
  return main
    ? { ageGroup: main.ageGroup, confidence: main.confidence, age: main.age, faces: each }
    : { ageGroup: null, confidence: 0, faces: [] };
}

export const caption: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: TASK_TYPE,
  parameters: schemaParameters(CaptionParams),
  aliases: ['imageCaption'],
  validate(value) {
    const p = validateParams(value);
    inputImageOf(p);
    return p;
  },
  modelOf: (p) => p.model ?? null,
  prices: [{ model: '*', perItem: 0.0002 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  if (p.model === undefined)
    throw new ProtocolError(
      'missingModel',
      { parameter: 'model', hint: NO_TEXT },
      { parameter: 'model', type: 'string' },
    );
  let resolved;
  try {
    resolved = services.engines.require(TASK_TYPE, p.model);
  } catch (err) {
    if (err instanceof ProtocolError && err.code === 'unsupportedModel') {
      throw new ProtocolError(
        'unsupportedModel',
        { what: `model '${p.model.slice(0, 200)}'`, hint: NO_TEXT },
        { parameter: 'model', type: 'string' },
      );
    }
    throw err;
  }
  const { engine } = resolved;
  const { parameter, source } = inputImageOf(p);
  const input = await services.imageInputs.resolve(org.id, parameter, source);
  if (engine.name === OPENAI_COMPATIBLE_ENGINE)
    return describeWithVisionModel(call, resolved, parameter, source, input.data);

  const estimate = async () => {
    const out = await engine
      .run('age-estimate', { image: input.data, minConfidence: 0.25, maxFaces: 20 })
      .catch((err: unknown) => {
        throw withImageParameter(err, parameter);
      });
    const price = services.prices.perItem(TASK_TYPE, p.model ?? null);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      structuredData: ageStructuredData(out.faces, out.width, out.height),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [], cost: price };
  };
  return { engine: engine.name, results: [estimate()] };
}

/** What a vision model is asked when the task gives no `prompt`. */
const DEFAULT_CAPTION_PROMPT = 'Describe this image in one or two sentences: its subject, setting, colours and style.';

/** A descriptive caption from the operator's vision-language model: the image travels as a data URI content part. */
async function describeWithVisionModel(
  call: TaskCall<Params>,
  resolved: ResolvedModel,
  parameter: string,
  source: string,
  image: Buffer,
): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const jpeg = await sharp(image)
    .rotate()
    .jpeg({ quality: 90 })
    .toBuffer()
    .catch(() => {
      throw new ProtocolError(
        parameter === 'inputs.image' ? 'invalidImage' : 'invalidInputImage',
        { parameter, reason: 'The input image could not be decoded.' },
        { parameter, type: 'string' },
      );
    });
  const price = services.prices.perItem(TASK_TYPE, p.model ?? null);
  const describe = async () => {
    const out = await resolved.engine.run(
      'chat-completion',
      {
        model: resolved.model.engineModel ?? resolved.model.air,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: p.prompt ?? DEFAULT_CAPTION_PROMPT },
              { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${jpeg.toString('base64')}` } },
            ],
          },
        ],
      },
      { task: { orgId: org.id, taskUUID: call.taskUUID } },
    );
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      text: out.text.trim(),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [], cost: price };
  };
  return { engine: resolved.engine.name, results: [describe()] };
}
