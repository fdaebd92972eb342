// The built-in engine's upscale model: Lanczos resampling. It stands in for every upscale model
// name until a learned upscaler is installed beside it.

import type { BuiltinModel } from '../catalogue.js';

export const LANCZOS = 'runtrail:lanczos@3';

export const upscaleModels: BuiltinModel[] = [
  {
    air: LANCZOS,
    name: 'runtrail Lanczos resampler (not a learned upscaler)',
    version: '3',
    category: 'upscaler',
    architecture: 'resampler',
    taskTypes: ['upscale'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription: 'Lanczos-3 resampling (libvips through sharp): enlarges without inventing detail.',
    operations: ['lanczos-upscale'],
    standsIn: [{ taskType: 'upscale', model: '*' }],
  },
];
