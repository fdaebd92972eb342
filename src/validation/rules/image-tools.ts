// The rule catalogue's part for the single-image tools whose Runware models have no limits of
// their own beyond their task type's schema: removeBackground, vectorize and imageMasking. Each
// still has an entry per local model (what its engine honours, for the docs table and
// modelSearch) and a generic one for the Runware AIRs it stands in for.

import type { LocalModelRules, ModelRules, TaskTypeRules } from '../model-rules.js';

const OUTPUTS = ['outputType', 'outputFormat', 'outputQuality', 'includeCost'] as const;

function generic(taskType: string): ModelRules {
  return { taskType, air: '*', name: 'any other AIR', source: 'runware-generic', params: {} };
}

function tool(taskType: string, local: LocalModelRules): TaskTypeRules {
  return { taskType, local: [local], runware: [], generic: generic(taskType) };
}

export const removeBackgroundRules = tool('removeBackground', {
  taskType: 'removeBackground',
  air: 'runtrail:isnet@general-use',
  name: 'ISNet general-use (DIS), half precision',
  source: 'runtrail',
  params: {},
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
  params: {},
  honours: ['inputImage', 'inputs.image', 'model', 'outputType', 'outputFormat', 'includeCost'],
});

/** Every masking model here (Human's networks, one AIR per mask target) honours every setting. */
export const imageMaskingRules = tool('imageMasking', {
  taskType: 'imageMasking',
  air: 'runtrail:*',
  name: "runtrail masking models (Human's networks)",
  source: 'runtrail',
  params: {},
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
