// videoInference's part of the rule catalogue: the key-image animator, KlingAI 1.0 Standard
// (whose limits Runware's KlingAI provider page lists), and Runware's generic video ranges for
// every other AIR (klingai:5@3 among them: no page of Runware's that we read gives its own).

import {
  durations,
  float,
  formats,
  fpsValues,
  frames,
  int,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

/** Runware's generic videoInference ranges (its API reference). */
const RUNWARE_VIDEO_GENERIC: Readonly<Record<string, ParamRule>> = {
  duration: float(1, 10),
  fps: int(15, 60),
  width: int(256, 1920, 8),
  height: int(256, 1080, 8),
  steps: int(10, 50),
  CFGScale: float(0, 50),
  numberResults: int(1, 4),
  outputFormat: formats('video', 'MP4', 'WEBM', 'MOV'),
};

const local: LocalModelRules[] = [
  {
    taskType: 'videoInference',
    air: 'runtrail:keyframe-motion@1',
    name: 'runtrail key-image animator (pan, zoom, cross-fade; not a video generation model)',
    source: 'runtrail',
    // The generic ranges, and at most eight key images in one video (the animator's own bound).
    params: { ...RUNWARE_VIDEO_GENERIC, frameImages: frames(1, 8) },
    honours: [
      'positivePrompt',
      'model',
      'duration',
      'fps',
      'width',
      'height',
      'seed',
      'numberResults',
      'frameImages',
      'inputs.frameImages',
      'inputs.image',
      'inputs.images',
      'outputType',
      'outputFormat',
      'outputQuality',
      'includeCost',
    ],
  },
];

const runware: ModelRules[] = [
  {
    taskType: 'videoInference',
    air: 'klingai:1@0',
    name: 'KlingAI 1.0 Standard',
    source: 'runware-provider-page',
    params: {
      ...RUNWARE_VIDEO_GENERIC,
      duration: durations(5, 10),
      fps: fpsValues(30),
      // A first frame only.
      frameImages: frames(1, 1),
    },
    sizes: [
      [1280, 720],
      [720, 720],
      [720, 1280],
    ],
  },
];

export const videoInferenceRules: TaskTypeRules = {
  taskType: 'videoInference',
  local,
  runware,
  generic: {
    taskType: 'videoInference',
    air: '*',
    name: 'any other AIR',
    source: 'runware-generic',
    params: RUNWARE_VIDEO_GENERIC,
  },
};
