// caption's part of the rule catalogue. Runware's `prompt` is for its vision-language captioners;
// the age-detection models answer structuredData and take none, so FaceRes (which runs for them
// here) takes none either. An operator's vision model (any other AIR) takes a prompt.

import { UNSUPPORTED, type LocalModelRules, type ModelRules, type TaskTypeRules } from '../model-rules.js';

const AGE_PARAMS = { prompt: UNSUPPORTED };

const local: LocalModelRules[] = [
  {
    taskType: 'caption',
    air: 'runtrail:faceres@age',
    name: 'runtrail FaceRes age estimate (face description model)',
    source: 'runtrail',
    params: AGE_PARAMS,
    honours: ['model', 'inputImage', 'inputs.image', 'includeCost'],
  },
];

const runware: ModelRules[] = (
  [
    ['runware:153@1', 'vit-age-classifier'],
    ['runware:154@1', 'open-age-detection'],
    ['runware:152@50', 'Qwen2.5-VL age detection'],
  ] as const
).map(([air, name]) => ({ taskType: 'caption', air, name, source: 'runware-generic', params: AGE_PARAMS }));

export const captionRules: TaskTypeRules = {
  taskType: 'caption',
  local,
  runware,
  generic: { taskType: 'caption', air: '*', name: 'any other AIR', source: 'runware-generic', params: {} },
};
