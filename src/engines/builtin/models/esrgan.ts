// The built-in engine's learned upscaler: ESRGAN (slim), and the Runware upscaler AIRs it runs
// for. Runware's upscalers (Clarity, CCSR, SD latent, SwinIR, Real-ESRGAN) are all learned
// networks that take factor 2 or 4, so the nearest local model for each is this one rather than
// the Lanczos resampler; tasks naming no model keep Lanczos, which also does ×3.

import type { BuiltinModel } from '../catalogue.js';

export const ESRGAN_SLIM = 'runtrail:esrgan@slim';

/** Runware's upscale AIRs, in the order of their ids: Clarity, CCSR, SD latent upscaler, SwinIR, Real-ESRGAN. */
export const RUNWARE_UPSCALERS = ['runware:500@1', 'runware:501@1', 'runware:502@1', 'runware:503@1', 'runware:504@1'];

export const esrganModels: BuiltinModel[] = [
  {
    air: ESRGAN_SLIM,
    name: 'ESRGAN slim (RDN super-resolution, ×2 and ×4)',
    version: 'slim',
    category: 'upscaler',
    architecture: 'esrgan',
    taskTypes: ['upscale'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      'The slim ESRGAN generator of @upscalerjs/esrgan-slim (residual dense network trained on DIV2K, MIT) on TensorFlow.js wasm: upscaleFactor 2 or 4, inputs up to 512×512 pixels.',
    operations: ['upscale-esrgan'],
    standsIn: RUNWARE_UPSCALERS.map((model) => ({ taskType: 'upscale', model })),
  },
];
