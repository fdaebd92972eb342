// Every model the built-in engine serves: one file per task type under models/, listed here.
// Each model names the operations it runs (for /healthz) and the Runware AIRs it stands in for
// by default (RUNTRAIL_MODEL_MAP rules come before these; docs/engines.md has the table).

import type { ModelInfo, ModelStandIn } from '../engine.js';
import type { OperationName } from './operation.js';
import { imageInferenceModels } from './models/image-inference.js';
import { upscaleModels } from './models/upscale.js';
import { removeBackgroundModels } from './models/remove-background.js';
import { vectorizeModels } from './models/vectorize.js';
import { imageMaskingModels } from './models/image-masking.js';
import { controlNetPreprocessModels } from './models/controlnet-preprocess.js';
import { captionModels } from './models/caption.js';
import { esrganModels } from './models/esrgan.js';
import { nsfwModels } from './models/nsfw.js';
import { audioInferenceModels } from './models/audio-inference.js';
import { videoInferenceModels } from './models/video-inference.js';

export interface BuiltinModel extends ModelInfo {
  /** The operations a task on this model runs. */
  operations: OperationName[];
  /** (taskType, AIR pattern) pairs this model runs for when no RUNTRAIL_MODEL_MAP rule says otherwise; first match wins, more specific first. */
  standsIn: ModelStandIn[];
}

// ESRGAN before Lanczos: Lanczos stands in for every other upscale AIR ('*').
export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  ...imageInferenceModels,
  ...esrganModels,
  ...upscaleModels,
  ...nsfwModels,
  ...removeBackgroundModels,
  ...vectorizeModels,
  ...imageMaskingModels,
  ...controlNetPreprocessModels,
  ...captionModels,
  ...audioInferenceModels,
  ...videoInferenceModels,
];
