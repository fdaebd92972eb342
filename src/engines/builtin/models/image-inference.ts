// The built-in engine's imageInference model, and the Runware AIRs it stands in for. No image
// generator ships in an npm or Debian package, so every imageInference model runs the procedural
// renderer: clients written for Runware keep working, and modelSearch says what really runs.

import type { BuiltinModel } from '../catalogue.js';
import { runwareAirsFor } from '../../../validation/rule-catalogue.js';

export const PROCEDURAL_PLASMA = 'runtrail:procedural@plasma-1';

export const imageInferenceModels: BuiltinModel[] = [
  {
    air: PROCEDURAL_PLASMA,
    name: 'runtrail procedural plasma (not a diffusion model)',
    version: 'plasma-1',
    category: 'checkpoint',
    architecture: 'procedural',
    taskTypes: ['imageInference'],
    defaultWidth: 512,
    defaultHeight: 512,
    shortDescription:
      'Deterministic sine-wave plasma pictures drawn from seed, model and prompt; no neural network. It gives the protocol and the ledger real images at CPU cost.',
    operations: ['procedural-render'],
    standsIn: [
      // runtrail:1@1 is this renderer's earlier name.
      { taskType: 'imageInference', model: 'runtrail:1@1' },
      // The Runware AIRs the rule catalogue knows (FLUX.1 [dev], [schnell], FLUX.2 [klein],
      // Imagen 4), named so that modelSearch for them finds what runs them; then every other AIR.
      ...runwareAirsFor('imageInference').map((model) => ({ taskType: 'imageInference', model })),
      { taskType: 'imageInference', model: '*' },
    ],
  },
];
