// The built-in engine's audioInference models. Speech is real text-to-speech (eSpeak NG, a
// formant synthesizer, when its Debian package is installed); music and sound effects are a
// seeded synthesizer (av/procedural-sound.ts), since no music or sound model ships in an npm or
// Debian package. Each stands in for the Runware AIRs that do the same kind of job.

import type { BuiltinModel } from '../catalogue.js';

export const ESPEAK_SPEECH = 'runtrail:espeak-ng@1';
export const PROCEDURAL_MUSIC = 'runtrail:procedural-audio@music-1';
export const PROCEDURAL_EFFECTS = 'runtrail:procedural-audio@effects-1';

export const audioInferenceModels: BuiltinModel[] = [
  {
    air: ESPEAK_SPEECH,
    name: 'eSpeak NG text-to-speech (formant synthesizer, not a neural voice)',
    version: '1',
    category: 'audio',
    architecture: 'tts',
    taskTypes: ['audioInference'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      "Speaks speech.text with the system's eSpeak NG in any of its languages and voice variants; clear, robotic, no neural network.",
    operations: ['synthesize-speech'],
    standsIn: [
      { taskType: 'audioInference', model: 'minimax:speech@*' },
      { taskType: 'audioInference', model: 'inworld:tts@*' },
      { taskType: 'audioInference', model: 'xai:tts@*' },
      { taskType: 'audioInference', model: 'alibaba:qwen@*tts*' },
      { taskType: 'audioInference', model: 'google:gemini@*tts*' },
      { taskType: 'audioInference', model: 'runware:dia@*' },
      { taskType: 'audioInference', model: 'runware:dia2@*' },
      { taskType: 'audioInference', model: 'fishaudio:*' },
      { taskType: 'audioInference', model: 'elevenlabs:*' },
    ],
  },
  {
    air: PROCEDURAL_MUSIC,
    name: 'runtrail procedural music (a seeded synthesizer, not a music model)',
    version: 'music-1',
    category: 'audio',
    architecture: 'procedural',
    taskTypes: ['audioInference'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      'Deterministic chord progression, bass, melody and drums at a tempo and key drawn from seed, model and prompts; no neural network. The prompt does not describe the result.',
    operations: ['procedural-audio'],
    standsIn: [
      { taskType: 'audioInference', model: 'runware:ace-step@*' },
      { taskType: 'audioInference', model: 'minimax:music@*' },
    ],
  },
  {
    air: PROCEDURAL_EFFECTS,
    name: 'runtrail procedural sound effects (a seeded synthesizer, not a sound model)',
    version: 'effects-1',
    category: 'audio',
    architecture: 'procedural',
    taskTypes: ['audioInference'],
    defaultWidth: 0,
    defaultHeight: 0,
    shortDescription:
      'Deterministic whooshes, impacts, chirps and rumbles drawn from seed, model and prompts (a few words such as "explosion" or "wind" favour one kind); no neural network.',
    operations: ['procedural-audio'],
    standsIn: [{ taskType: 'audioInference', model: 'mirelo:*' }],
  },
];
