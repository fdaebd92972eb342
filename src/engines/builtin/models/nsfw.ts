// The NSFW classifiers behind imageInference's safety check (safety.checkContent / mode,
// checkNSFW). They are announced so that modelSearch tells what judges the images, but serve no
// task type of their own: no task can name them to run them.

import type { BuiltinModel } from '../catalogue.js';

export const NSFW_MOBILENET = 'runtrail:nsfwjs@mobilenet-v2';
export const NSFW_INCEPTION = 'runtrail:nsfwjs@inception-v3';

const common = {
  category: 'safety-checker',
  architecture: 'nsfwjs',
  taskTypes: [],
  defaultWidth: 0,
  defaultHeight: 0,
  operations: ['classify-nsfw' as const],
  standsIn: [],
};

export const nsfwModels: BuiltinModel[] = [
  {
    ...common,
    air: NSFW_MOBILENET,
    name: 'nsfwjs MobileNetV2 NSFW classifier (safety mode fast)',
    version: 'mobilenet-v2',
    shortDescription:
      "nsfwjs's MobileNetV2 (224×224, MIT) on TensorFlow.js wasm, scoring Drawing/Hentai/Neutral/Porn/Sexy; imageInference's NSFWContent for safety.checkContent, mode 'fast' and checkNSFW.",
  },
  {
    ...common,
    air: NSFW_INCEPTION,
    name: 'nsfwjs InceptionV3 NSFW classifier (safety mode full)',
    version: 'inception-v3',
    shortDescription:
      "nsfwjs's InceptionV3 (299×299, MIT) on TensorFlow.js wasm: slower and more accurate; imageInference's NSFWContent for safety mode 'full'.",
  },
];
