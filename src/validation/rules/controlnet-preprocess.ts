// controlNetPreprocess's part of the rule catalogue. Runware gives settings to two preprocessors
// only: canny takes its two thresholds, openpose its hands-and-face switch; a setting given to
// another preprocessor is one that model does not take. Legacy tasks name the preprocessor by
// `preProcessorType` instead of a model; their rules are those of the AIR it stands for.

import {
  UNSUPPORTED,
  RASTER_FORMATS,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

type Preprocessor = 'canny' | 'tile' | 'shuffle' | 'openpose';

/** Every preprocessor writes its guide image as JPG, PNG or WEBP. */

const CANNY_SETTINGS = ['lowThresholdCanny', 'highThresholdCanny'] as const;
const OPENPOSE_SETTINGS = ['includeHandsAndFaceOpenPose'] as const;

/** The settings a preprocessor does not take, at the task's root (legacy) and under `settings`, and what it writes. */
function paramsOf(preprocessor: Preprocessor): Readonly<Record<string, ParamRule>> {
  const refused = [
    ...(preprocessor === 'canny' ? [] : CANNY_SETTINGS),
    ...(preprocessor === 'openpose' ? [] : OPENPOSE_SETTINGS),
  ];
  return {
    ...Object.fromEntries(
      refused.flatMap((name) => [[name, UNSUPPORTED] as const, [`settings.${name}`, UNSUPPORTED] as const]),
    ),
    outputFormat: RASTER_FORMATS,
  };
}

const COMMON_HONOURS = [
  'model',
  'preProcessorType',
  'inputImage',
  'inputs.image',
  'width',
  'height',
  'outputType',
  'outputFormat',
  'outputQuality',
  'includeCost',
] as const;

const LOCAL: readonly [string, string, Preprocessor, readonly string[]][] = [
  ['runtrail:canny@1', 'runtrail Canny edges', 'canny', ['settings', ...CANNY_SETTINGS]],
  ['runtrail:tile@1', 'runtrail tile (blurred layout)', 'tile', []],
  ['runtrail:content-shuffle@1', 'runtrail content shuffle', 'shuffle', ['settings', 'seed']],
  [
    'runtrail:movenet-openpose@lightning',
    'runtrail OpenPose-style skeleton from MoveNet',
    'openpose',
    ['settings', ...OPENPOSE_SETTINGS],
  ],
];

const local: LocalModelRules[] = LOCAL.map(([air, name, preprocessor, own]) => ({
  taskType: 'controlNetPreprocess',
  air,
  name,
  source: 'runtrail',
  params: paramsOf(preprocessor),
  honours: [...COMMON_HONOURS, ...own],
}));

const runware: ModelRules[] = LOCAL.map(([, , preprocessor]) => ({
  taskType: 'controlNetPreprocess',
  air: `runware:controlnet-preprocess@${preprocessor}`,
  name: `${preprocessor} preprocessor`,
  source: 'runware-generic',
  params: paramsOf(preprocessor),
}));

export const controlNetPreprocessRules: TaskTypeRules = {
  taskType: 'controlNetPreprocess',
  local,
  runware,
  generic: {
    taskType: 'controlNetPreprocess',
    air: '*',
    name: 'any other AIR',
    source: 'runware-generic',
    params: { outputFormat: RASTER_FORMATS },
  },
  // The legacy name of the preprocessor (`lineart_anime`) is the AIR's version (`lineart-anime`).
  modelOf: (task) => {
    const type = task['preProcessorType'];
    return typeof type === 'string' ? `runware:controlnet-preprocess@${type.replace('_', '-')}` : undefined;
  },
};
