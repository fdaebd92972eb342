// The rule catalogue's part for the single-image tools: removeBackground (whose Runware models
// but RemBG 1.4 take no settings), vectorize and imageMasking (whose models have no limits beyond
// their task type's schema and the formats they write). Each has an entry per local model (what
// its engine honours, for the docs table and modelSearch) and generic rules for other AIRs.

import {
  UNSUPPORTED,
  RASTER_FORMATS,
  formats,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

const OUTPUTS = ['outputType', 'outputFormat', 'outputQuality', 'includeCost'] as const;

/** What the raster tools write, here and at Runware. */
const RASTER: Readonly<Record<string, ParamRule>> = { outputFormat: RASTER_FORMATS };
/** What the vectorizers write. */
const VECTOR: Readonly<Record<string, ParamRule>> = { outputFormat: formats('vector', 'SVG') };

function generic(taskType: string, params: Readonly<Record<string, ParamRule>>): ModelRules {
  return { taskType, air: '*', name: 'any other AIR', source: 'runware-generic', params };
}

function tool(taskType: string, local: LocalModelRules): TaskTypeRules {
  return withRunware([], local);
}

function withRunware(runware: readonly ModelRules[], local: LocalModelRules): TaskTypeRules {
  return { taskType: local.taskType, local: [local], runware, generic: generic(local.taskType, local.params) };
}

/** RemBG 1.4's settings, under `settings` or at the root (the legacy task). */
const REMBG_SETTINGS = [
  'rgba',
  'postProcessMask',
  'returnOnlyMask',
  'alphaMatting',
  'alphaMattingForegroundThreshold',
  'alphaMattingBackgroundThreshold',
  'alphaMattingErodeSize',
] as const;

/**
 * Runware gives settings to RemBG 1.4 (`runware:109@1`) only: its other background removers
 * (Bria RMBG 2.0, the BiRefNet variants, Bria's own) take the image and the output options, and a
 * setting, under `settings` or at the root, answers `unsupportedParameter`.
 */
const NO_SETTINGS: Readonly<Record<string, ParamRule>> = {
  settings: UNSUPPORTED,
  ...Object.fromEntries(REMBG_SETTINGS.map((name) => [name, UNSUPPORTED])),
  ...RASTER,
};

const removers: ModelRules[] = [
  { air: 'runware:109@1', name: 'RemBG 1.4', params: RASTER },
  { air: 'runware:110@1', name: 'Bria RMBG 2.0', params: NO_SETTINGS },
  { air: 'runware:112@*', name: 'BiRefNet', params: NO_SETTINGS },
  { air: 'bria:2@1', name: 'Bria background removal', params: NO_SETTINGS },
].map((r) => ({ taskType: 'removeBackground', source: 'runware-generic', ...r }));

export const removeBackgroundRules = withRunware(removers, {
  taskType: 'removeBackground',
  air: 'runtrail:isnet@general-use',
  name: 'ISNet general-use (DIS), half precision',
  source: 'runtrail',
  params: RASTER,
  honours: ['inputImage', 'inputs.image', 'model', 'settings', ...REMBG_SETTINGS, ...OUTPUTS],
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
