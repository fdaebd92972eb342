// audioInference's part of the rule catalogue. Runware's audio models come in two kinds: speech
// models take a `speech` object (text and voice) and no sampler or length settings; music and
// sound-effect models take `positivePrompt` and a `duration` (Runware's generic range 10–300 s)
// and no `speech`. runtrail's procedural music and effects take 1 s and up, so that tests and
// benchmarks can ask for short clips by naming them; Runware's AIRs meet Runware's range.

import {
  UNSUPPORTED,
  float,
  formats,
  int,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

const NUMBER_RESULTS = int(1, 3);
/** The four formats Runware's audio reference lists; ffmpeg writes each of them for the local models. */
const AUDIO_FORMATS = formats('audio', 'MP3', 'WAV', 'FLAC', 'OGG');

/** A speech model: what to say is `speech`; it has no length, steps or guidance of its own. */
const SPEECH_PARAMS: Readonly<Record<string, ParamRule>> = {
  numberResults: NUMBER_RESULTS,
  duration: UNSUPPORTED,
  steps: UNSUPPORTED,
  CFGScale: UNSUPPORTED,
  outputFormat: AUDIO_FORMATS,
};

/** A music or sound-effect model under Runware's generic ranges. */
const RUNWARE_SOUND_PARAMS: Readonly<Record<string, ParamRule>> = {
  numberResults: NUMBER_RESULTS,
  duration: float(10, 300),
  steps: int(1, 100),
  CFGScale: float(0, 50),
  speech: UNSUPPORTED,
  outputFormat: AUDIO_FORMATS,
};

const PROCEDURAL_SOUND_PARAMS: Readonly<Record<string, ParamRule>> = {
  ...RUNWARE_SOUND_PARAMS,
  duration: float(1, 300),
};

const PROCEDURAL_SOUND_HONOURS = [
  'positivePrompt',
  'negativePrompt',
  'model',
  'seed',
  'duration',
  'numberResults',
  'audioSettings',
  'outputType',
  'outputFormat',
  'includeCost',
] as const;

const local: LocalModelRules[] = [
  {
    taskType: 'audioInference',
    air: 'runtrail:espeak-ng@1',
    name: 'eSpeak NG text-to-speech (formant synthesizer, not a neural voice)',
    source: 'runtrail',
    params: SPEECH_PARAMS,
    honours: ['speech', 'model', 'numberResults', 'audioSettings', 'outputType', 'outputFormat', 'includeCost'],
  },
  {
    taskType: 'audioInference',
    air: 'runtrail:procedural-audio@music-1',
    name: 'runtrail procedural music (a seeded synthesizer, not a music model)',
    source: 'runtrail',
    params: PROCEDURAL_SOUND_PARAMS,
    honours: PROCEDURAL_SOUND_HONOURS,
  },
  {
    taskType: 'audioInference',
    air: 'runtrail:procedural-audio@effects-1',
    name: 'runtrail procedural sound effects (a seeded synthesizer, not a sound model)',
    source: 'runtrail',
    params: PROCEDURAL_SOUND_PARAMS,
    honours: PROCEDURAL_SOUND_HONOURS,
  },
];

/** Runware's speech model families, as the speech model stands in for them. */
const SPEECH_FAMILIES = [
  ['minimax:speech@*', 'MiniMax Speech'],
  ['inworld:tts@*', 'Inworld TTS'],
  ['xai:tts@*', 'xAI TTS'],
  ['alibaba:qwen@*tts*', 'Qwen TTS'],
  ['google:gemini@*tts*', 'Gemini TTS'],
  ['runware:dia@*', 'Dia'],
  ['runware:dia2@*', 'Dia 2'],
  ['fishaudio:*', 'Fish Audio'],
  ['elevenlabs:*', 'ElevenLabs'],
] as const;

/** Runware's music and sound-effect model families. */
const SOUND_FAMILIES = [
  ['runware:ace-step@*', 'ACE-Step'],
  ['minimax:music@*', 'MiniMax Music'],
  ['mirelo:*', 'Mirelo sound effects'],
] as const;

const runware: ModelRules[] = [
  ...SPEECH_FAMILIES.map(([air, name]): ModelRules => ({
    taskType: 'audioInference',
    air,
    name: `${name} (speech)`,
    source: 'runware-generic',
    params: SPEECH_PARAMS,
  })),
  ...SOUND_FAMILIES.map(([air, name]): ModelRules => ({
    taskType: 'audioInference',
    air,
    name,
    source: 'runware-generic',
    params: RUNWARE_SOUND_PARAMS,
  })),
];

export const audioInferenceRules: TaskTypeRules = {
  taskType: 'audioInference',
  local,
  runware,
  generic: {
    taskType: 'audioInference',
    air: '*',
    name: 'any other AIR',
    source: 'runware-generic',
    params: { numberResults: NUMBER_RESULTS, outputFormat: AUDIO_FORMATS },
  },
};
