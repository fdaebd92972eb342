// The built-in engine's vectorizer: outline tracing with imagetracerjs (an algorithm, no learned
// model), standing in for Runware's raster→vector AIRs by default.

import type { BuiltinModel } from '../catalogue.js';
import { TRACER_MODEL_AIR } from '../ops/vectorize.js';

export const vectorizeModels: BuiltinModel[] = [
  {
    air: TRACER_MODEL_AIR,
    name: 'imagetracerjs colour tracer (not a learned vectorizer)',
    version: '1',
    category: 'vectorizer',
    architecture: 'tracer',
    taskTypes: ['vectorize'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      'Quantises the image to 16 colours and traces each colour region into SVG paths (imagetracerjs 1.2.6).',
    operations: ['vectorize'],
    standsIn: [
      { taskType: 'vectorize', model: 'recraft:1@1' },
      { taskType: 'vectorize', model: 'picsart:1@1' },
    ],
  },
];
