// caption models: only age estimation runs here. Runware's age classifiers (vit-age-classifier,
// open-age-detection) are other networks; Human's FaceRes face description model stands in and
// its age per face is mapped to age groups (docs/engines.md). No descriptive captioner (a
// vision-language model) ships in an npm or Debian package, so those AIRs are not mapped.

import type { BuiltinModel } from '../catalogue.js';

export const FACERES_AGE = 'runtrail:faceres@age';

/** Runware's age-detection AIRs, all answered with structuredData by FaceRes here. */
export const RUNWARE_AGE_MODELS = ['runware:153@1', 'runware:154@1', 'runware:152@50'] as const;

export const captionModels: BuiltinModel[] = [
  {
    air: FACERES_AGE,
    name: 'runtrail FaceRes age estimate (face description model)',
    version: 'age',
    category: 'caption',
    architecture: 'faceres',
    taskTypes: ['caption'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      "Human's FaceRes face description model on BlazeFace detections: an age in years per face, answered as structuredData age groups. Not a descriptive captioner.",
    operations: ['age-estimate'],
    standsIn: RUNWARE_AGE_MODELS.map((model) => ({ taskType: 'caption', model })),
  },
];
