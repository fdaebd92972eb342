// The built-in engine's videoInference model: not a video generator (none ships in an npm or
// Debian package) but an animator: the caller's key images held, zoomed, panned and cross-faded,
// or without images two procedural plasma pictures animated the same way, encoded by ffmpeg.
// It stands in for every video AIR, as the procedural renderer does for images, and says so.

import type { BuiltinModel } from '../catalogue.js';
import { runwareAirsFor } from '../../../validation/rule-catalogue.js';

export const KEY_IMAGE_ANIMATOR = 'runtrail:keyframe-motion@1';

export const videoInferenceModels: BuiltinModel[] = [
  {
    air: KEY_IMAGE_ANIMATOR,
    name: 'runtrail key-image animator (pan, zoom, cross-fade; not a video generation model)',
    version: '1',
    category: 'video',
    architecture: 'procedural',
    taskTypes: ['videoInference'],
    defaultWidth: 640,
    defaultHeight: 360,
    shortDescription:
      'Animates frameImages / inputs images with a slow zoom and pan and cross-fades between them; without images it animates two procedural plasma pictures of seed and prompt. Encoded by ffmpeg (H.264 or VP9).',
    operations: ['encode-video'],
    standsIn: [
      // The AIRs the rule catalogue gives limits of their own (KlingAI 1.0 Standard), and a
      // well-known video AIR, named so that modelSearch for them finds what runs them.
      ...runwareAirsFor('videoInference').map((model) => ({ taskType: 'videoInference', model })),
      { taskType: 'videoInference', model: 'klingai:5@3' },
      { taskType: 'videoInference', model: '*' },
    ],
  },
];
