// The rule catalogue's part for the single-image tools whose Runware models have no limits of
// their own beyond their task type's schema and the formats they write: removeBackground,
// vectorize and imageMasking. Each
// still has an entry per local model (what its engine honours, for the docs table and
// modelSearch) and a generic one for the Runware AIRs it stands in for.

import { formats, type LocalModelRules, type ModelRules, type ParamRule, type TaskTypeRules } from '../model-rules.js';

const OUTPUTS = ['outputType', 'outputFormat', 'outputQuality', 'includeCost'] as const;

/** What the raster tools write, here and at Runware. */
const RASTER: Readonly<Record<string, ParamRule>> = { outputFormat: formats('image', 'JPG', 'PNG', 'WEBP') };
/** What the vectorizers write. */
const VECTOR: Readonly<Record<string, ParamRule>> = { outputFormat: formats('vector', 'SVG') };

function generic(taskType: string, params: Readonly<Record<string, ParamRule>>): ModelRules {
  return { taskType, air: '*', name: 'any other AIR', source: 'runware-generic', params };
}

function tool(taskType: string, local: LocalModelRules): TaskTypeRules {
  return { taskType, local: [local], runware: [], generic: generic(taskType, local.params) };
}

export const removeBackgroundRules = tool('removeBackground', {
  taskType: 'removeBackground',
  air: 'runtrail:isnet@general-use',
  name: 'ISNet general-use (DIS), half precision',
  source: 'runtrail',
  params: RASTER,
  honours: [
    'inputImage',
    'inputs.image',
    'model',
    'settings',
    'rgba',
    'postProcessMask',
    'returnOnlyMask',
    'alphaMatting',
    'alphaMattingForegroundThreshold',
    'alphaMattingBackgroundThreshold',
    'alphaMattingErodeSize',
    ...OUTPUTS,
  ],
});

export const vectorizeRules = tool('vectorize', {
  taskType: 'vectorize',
  air: 'runtrail:imagetracer@1',
  name: 'imagetracerjs colour tracer (not a learned vectorizer)',
  source: 'runtrail',
  params: VECTOR,
  honours: ['inputImage', 'inputs.image', 'model', 'outputType', 'outputFormat', 'includeCost'],
});

/** Every masking model here (Human's networks, one AIR per mask target) honours every setting. */
export const imageMaskingRules = tool('imageMasking', {
  taskType: 'imageMasking',
  air: 'runtrail:*',
  name: "runtrail masking models (Human's networks)",
  source: 'runtrail',
  params: RASTER,
  honours: [
    'inputImage',
    'inputs.image',
    'model',
    'settings',
    'confidence',
    'maxDetections',
    'maskPadding',
    'maskBlur',
    ...OUTPUTS,
  ],
});
