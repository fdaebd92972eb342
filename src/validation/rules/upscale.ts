// upscale's part of the rule catalogue: which factors each upscaler takes. Runware's upscalers
// enlarge by 2 or 4 (its API reference), the SD latent upscaler by 2 only and Clarity by 2 to 4
// (their model pages); the legacy imageUpscale took 2, 3 or 4, which any other AIR (and a task
// naming no model) keeps. ESRGAN here has weights for ×2 and ×4 only.

import {
  RASTER_FORMATS,
  int,
  intValues,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

/** Every upscaler, here and at Runware, writes JPG, PNG or WEBP (RASTER_FORMATS). */
const factors = (upscaleFactor: ParamRule): Readonly<Record<string, ParamRule>> => ({
  upscaleFactor,
  outputFormat: RASTER_FORMATS,
});

const HONOURS = [
  'inputImage',
  'inputs.image',
  'upscaleFactor',
  'model',
  'outputType',
  'outputFormat',
  'outputQuality',
  'includeCost',
] as const;

const local: LocalModelRules[] = [
  {
    taskType: 'upscale',
    air: 'runtrail:esrgan@slim',
    name: 'ESRGAN slim (RDN super-resolution, ×2 and ×4)',
    source: 'runtrail',
    params: factors(intValues(2, 4)),
    honours: HONOURS,
  },
  {
    taskType: 'upscale',
    air: 'runtrail:lanczos@3',
    name: 'runtrail Lanczos resampler (not a learned upscaler)',
    source: 'runtrail',
    params: factors(int(2, 4)),
    honours: HONOURS,
  },
];

const upscaler = (air: string, name: string, rules: ModelRules['params'], page: boolean): ModelRules => ({
  taskType: 'upscale',
  air,
  name,
  source: page ? 'runware-model-page' : 'runware-generic',
  params: rules,
});

const runware: ModelRules[] = [
  upscaler('runware:500@1', 'Clarity', factors(int(2, 4)), true),
  upscaler('runware:501@1', 'CCSR', factors(intValues(2, 4)), false),
  upscaler('runware:502@1', 'Stable Diffusion Latent Upscaler', factors(intValues(2)), true),
  upscaler('runware:503@1', 'SwinIR', factors(intValues(2, 4)), false),
  upscaler('runware:504@1', 'Real-ESRGAN', factors(intValues(2, 4)), false),
];

export const upscaleRules: TaskTypeRules = {
  taskType: 'upscale',
  local,
  runware,
  generic: {
    taskType: 'upscale',
    air: '*',
    name: 'any other AIR, or none',
    source: 'runware-generic',
    params: factors(int(2, 4)),
  },
};
