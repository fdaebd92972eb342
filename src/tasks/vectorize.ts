// vectorize: turns a raster image into an SVG by tracing it (imagetracerjs; docs/engines.md).
// `outputFormat` is SVG only. Runware's raster→vector AIRs run on the tracer through the engines'
// model map; its text→vector models (a prompt, no image) cannot run here and are refused clearly.

import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { TRACER_MODEL_AIR } from '../engines/builtin/ops/vectorize.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { OUTPUT_TYPES, imageOutputFields } from './image-output.js';
import { imageInputOf, operationErrorFor } from './image-input-params.js';

const VectorizeParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  inputImage: Type.Optional(Type.String({ minLength: 1 })),
  inputs: Type.Optional(Type.Object({ image: Type.Optional(Type.String({ minLength: 1 })) })),
  model: Type.Optional(
    Type.String({
      pattern: AIR_PATTERN,
      'x-format-hint': "A model is named by its AIR, 'source:id@version' (for example 'recraft:1@1').",
    }),
  ),
  positivePrompt: Type.Optional(Type.String()),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(['SVG'] as const, true)),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof VectorizeParams>;

const validateParams = compileValidator(VectorizeParams);

/** Runware's text→vector models: they draw from a prompt, which a tracer cannot. */
const TEXT_TO_VECTOR = /@vector$/i;

export const vectorize: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'vectorize',
  parameters: schemaParameters(VectorizeParams),
  validate(value) {
    const params = validateParams(value);
    const hasImage = params.inputImage !== undefined || params.inputs?.image !== undefined;
    if (
      (params.model !== undefined && TEXT_TO_VECTOR.test(params.model)) ||
      (!hasImage && params.positivePrompt !== undefined)
    ) {
      throw new ProtocolError(
        'unsupportedModel',
        {
          what: "text-to-vector generation (a prompt, models such as 'recraft:v4@vector')",
          hint: `It traces an image given in 'inputs.image' into SVG with ${TRACER_MODEL_AIR}.`,
        },
        { parameter: 'model', type: 'string' },
      );
    }
    imageInputOf(params);
    return params;
  },
  modelOf: (p) => p.model ?? null,
  prices: [{ model: '*', perItem: 0.002 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine } = services.engines.require('vectorize', p.model ?? TRACER_MODEL_AIR);
  const { parameter, source } = imageInputOf(p);
  const input = await services.imageInputs.resolve(org.id, parameter, source);

  const traced = async () => {
    const out = await engine.run('vectorize', { image: input.data }).catch((err: unknown) => {
      throw operationErrorFor(err, parameter);
    });
    const data = asBuffer(out.image);
    const record = await services.media.save(org.id, call.taskUUID, {
      data,
      format: 'svg',
      width: out.width,
      height: out.height,
    });
    const price = services.prices.perItem('vectorize', p.model ?? null);
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      imageUUID: record.mediaUUID,
      ...(looksLikeUuid(source) ? { inputImageUUID: source } : {}),
      ...imageOutputFields(p.outputType ?? 'URL', services.media.urlOf(record), { data, format: 'svg' }),
      ...(p.includeCost ? { cost: price } : {}),
    };
    return { item, media: [record], cost: price };
  };
  return { engine: engine.name, results: [traced()] };
}
