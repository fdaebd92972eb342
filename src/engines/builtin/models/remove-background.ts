// The built-in engine's background-removal model: ISNet, the general-object segmentation
// network of the DIS project, and the Runware AIRs it stands in for by default (RemBG 1.4, Bria
// RMBG 2.0, the BiRefNet variants, Bria's hosted model). Those are different networks: modelSearch
// and docs/engines.md say that ISNet is what runs.

import type { BuiltinModel } from '../catalogue.js';
import { ISNET_MODEL_AIR } from '../ops/remove-background.js';

export const removeBackgroundModels: BuiltinModel[] = [
  {
    air: ISNET_MODEL_AIR,
    name: 'ISNet general-use (DIS), half precision',
    version: 'general-use',
    category: 'background-removal',
    architecture: 'isnet',
    taskTypes: ['removeBackground'],
    defaultWidth: 1024,
    defaultHeight: 1024,
    shortDescription:
      'ISNet dichotomous image segmentation at 1024×1024 on onnxruntime (CPU), with weights published as MIT. Cuts out the main object; its mask is scaled back to the input size.',
    operations: ['remove-background'],
    standsIn: [
      { taskType: 'removeBackground', model: 'runware:109@1' },
      { taskType: 'removeBackground', model: 'runware:110@1' },
      { taskType: 'removeBackground', model: 'runware:112@*' },
      { taskType: 'removeBackground', model: 'bria:2@1' },
    ],
  },
];
