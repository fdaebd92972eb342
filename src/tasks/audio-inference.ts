// audioInference: speech (`speech.text`, `speech.voice`) spoken by eSpeak NG, or procedural
// music / sound effects from `positivePrompt` and `duration`, on the built-in engine; which one
// runs depends on the model the task names (docs/engines.md has the table). Parameters follow
// Runware's audioInference (outputFormat MP3 | WAV | FLAC | OGG, audioSettings, numberResults
// 1–3); `duration` is 1–300 s for the procedural models (docs/protocol.md records the decision).
// Parameters the built-in engine has no use for (steps, CFGScale, providerSettings) are validated
// and recorded, then ignored.

import { randomInt } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { exactSeed } from '../protocol/source-integers.js';
import { ProtocolError } from '../protocol/errors.js';
import { asBuffer } from '../engines/builtin/operation.js';
import { ESPEAK_SPEECH, PROCEDURAL_EFFECTS } from '../engines/builtin/models/audio-inference.js';
import type { AudioTarget } from '../engines/builtin/av/audio-encode.js';
import { espeak, unsupportedVoiceParams, voiceArgument } from '../engines/builtin/av/espeak.js';
import type { AudioFormat } from '../media/media-store.js';
import { AIR_PATTERN, compileValidator, oneOf, schemaParameters } from './validate.js';
import { OUTPUT_TYPES } from './image-output.js';
import { mediaOutputFields, seedValue } from './media-output.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

export const AUDIO_FORMATS = ['MP3', 'WAV', 'FLAC', 'OGG'] as const;
/** Rates every output format takes (MP3 allows only these). */
export const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
export const MAX_SPEECH_CHARACTERS = 4000;

const AudioInferenceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.String({ pattern: AIR_PATTERN }),
  positivePrompt: Type.Optional(Type.String({ minLength: 2, maxLength: 3000 })),
  negativePrompt: Type.Optional(Type.String({ minLength: 2, maxLength: 3000 })),
  duration: Type.Optional(Type.Number({ minimum: 1, maximum: 300 })),
  steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  CFGScale: Type.Optional(Type.Number({ minimum: 0, maximum: 50 })),
  seed: Type.Optional(Type.Integer({ minimum: 1, maximum: 9223372036854776000 })),
  numberResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 3 })),
  speech: Type.Optional(
    Type.Object({
      text: Type.String({ minLength: 1, maxLength: MAX_SPEECH_CHARACTERS }),
      voice: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    }),
  ),
  audioSettings: Type.Optional(
    Type.Object({
      sampleRate: Type.Optional(Type.Unsafe<number>({ type: 'integer', enum: [...SAMPLE_RATES] })),
      bitrate: Type.Optional(Type.Integer({ minimum: 32, maximum: 320 })),
      channels: Type.Optional(Type.Unsafe<1 | 2>({ type: 'integer', enum: [1, 2] })),
    }),
  ),
  outputType: Type.Optional(oneOf(OUTPUT_TYPES)),
  outputFormat: Type.Optional(oneOf(AUDIO_FORMATS, true)),
  includeCost: Type.Optional(Type.Boolean()),
  ttl: Type.Optional(Type.Integer({ minimum: 60 })),
  providerSettings: Type.Optional(Type.Object({})),
});

type Params = Static<typeof AudioInferenceParams>;

const validateParams = compileValidator(AudioInferenceParams);

export const audioInference: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'audioInference',
  parameters: schemaParameters(AudioInferenceParams),
  validate: validateParams,
  modelOf: (p) => p.model,
  prices: [{ model: '*', perItem: 0.0005 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require('audioInference', p.model);
  const speaks = model.air === ESPEAK_SPEECH;
  // Checked before any work starts: a task missing what its model needs fails as a whole.
  const job: { speech: SpeechJob } | { sound: SoundJob } = speaks
    ? { speech: speechOf(p) }
    : { sound: soundOf(p, model.air) };
  const count = p.numberResults ?? 1;
  const firstSeed = exactSeed(call.requestText, p.seed) ?? BigInt(randomInt(1, 2 ** 31));
  const format = (p.outputFormat ?? 'MP3').toLowerCase() as AudioFormat;
  const target: AudioTarget = {
    format,
    sampleRate: p.audioSettings?.sampleRate ?? 44100,
    // Speech is mono at the source; music and effects are stereo.
    channels: p.audioSettings?.channels ?? (speaks ? 1 : 2),
    bitrate: p.audioSettings?.bitrate ?? 128,
  };
  const perItem = services.prices.perItem('audioInference', p.model);

  const produce = async (index: number): Promise<ItemResult> => {
    const seed = firstSeed + BigInt(index);
    const onProgress = call.onProgress;
    const progress = onProgress ? { onProgress: (percent: number) => onProgress(index, percent) } : {};
    const out =
      'speech' in job
        ? await engine.run('synthesize-speech', { ...job.speech, seed, target }, progress)
        : await engine.run('procedural-audio', { ...job.sound, seed, target }, progress);
    const data = asBuffer(out.audio);
    const record = await services.media.save(org.id, call.taskUUID, { data, format: out.format, width: 0, height: 0 });
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      audioUUID: record.mediaUUID,
      ...mediaOutputFields('audio', p.outputType ?? 'URL', services.media.urlOf(record), { data, format: out.format }),
      seed: seedValue(seed),
      ...(p.includeCost ? { cost: perItem } : {}),
    };
    return { item, media: [record], cost: perItem };
  };
  return { engine: engine.name, results: Array.from({ length: count }, (_, i) => produce(i)) };
}

type SpeechJob = { text: string; voice?: string };
type SoundJob = { kind: 'music' | 'effects'; seconds: number; model: string; prompt: string; negativePrompt: string };

function speechOf(p: Params): SpeechJob {
  if (p.speech === undefined) {
    throw new ProtocolError(
      'missingSpeech',
      {
        parameter: 'speech',
        hint: `It is an object with 'text' and optionally 'voice', for speech model '${p.model}'.`,
      },
      {
        parameter: 'speech',
        type: 'object',
      },
    );
  }
  const voice = p.speech.voice;
  if (voice === undefined) return { text: p.speech.text };
  // Checked here too (the synthesizer checks again), so that a voice it lacks fails the task once,
  // before any result starts.
  const e = espeak();
  if (e.ok && voiceArgument(e, voice) === undefined) {
    throw new ProtocolError('unsupportedVoice', unsupportedVoiceParams(e, voice), {
      parameter: 'speech.voice',
      type: 'string',
    });
  }
  return { text: p.speech.text, voice };
}

function soundOf(p: Params, air: string): SoundJob {
  if (p.speech !== undefined) {
    throw new ProtocolError(
      'unsupportedParameter',
      {
        feature: `'speech' on model '${p.model}'`,
        hint: "It makes music or sound effects from 'positivePrompt'.",
      },
      {
        parameter: 'speech',
      },
    );
  }
  if (p.positivePrompt === undefined) {
    throw new ProtocolError(
      'missingPositivePrompt',
      { parameter: 'positivePrompt' },
      {
        parameter: 'positivePrompt',
        type: 'string',
      },
    );
  }
  if (p.duration === undefined) {
    throw new ProtocolError(
      'missingDuration',
      { parameter: 'duration', hint: 'It is in seconds, 1 to 300.' },
      {
        parameter: 'duration',
        type: 'float',
      },
    );
  }
  return {
    kind: air === PROCEDURAL_EFFECTS ? 'effects' : 'music',
    seconds: p.duration,
    model: p.model,
    prompt: p.positivePrompt,
    negativePrompt: p.negativePrompt ?? '',
  };
}
