// Operation `procedural-audio`: procedural music or sound effects (av/procedural-sound.ts, a
// seeded synthesizer, not a generative model), encoded by ffmpeg into the caller's format.

import { encodeAudio, type AudioTarget } from '../av/audio-encode.js';
import { describeFfmpeg, ffmpeg } from '../av/ffmpeg-binary.js';
import { renderSound, type SoundKind } from '../av/procedural-sound.js';
import { withWorkDir } from '../av/work-dir.js';
import type { Availability, OperationContext } from '../operation.js';
import type { EncodedAudio } from './synthesize-speech.js';

export interface ProceduralAudioInput {
  kind: SoundKind;
  seconds: number;
  seed: bigint;
  /** Part of the sound's identity with seed and prompts (the caller's AIR). */
  model: string;
  prompt: string;
  negativePrompt: string;
  target: AudioTarget;
}

declare module './op-table.js' {
  interface OpTable {
    'procedural-audio': { input: ProceduralAudioInput; output: EncodedAudio };
  }
}

export function availability(): Availability {
  const f = ffmpeg();
  return f.ok ? { ready: true, detail: describeFfmpeg(f) } : { ready: false, reason: f.reason };
}

export async function run(input: ProceduralAudioInput, context?: OperationContext): Promise<EncodedAudio> {
  let reported = -1;
  const pcm = renderSound(
    {
      kind: input.kind,
      seconds: input.seconds,
      sampleRate: input.target.sampleRate,
      seed: input.seed,
      model: input.model,
      prompt: input.prompt,
      negativePrompt: input.negativePrompt,
    },
    (fraction) => {
      const percent = Math.floor(fraction * 60);
      if (percent !== reported) context?.progress((reported = percent));
    },
  );
  // Encoding runs well over real time: a deadline of a second of work per ten of sound, and a floor.
  const timeoutMs = 30_000 + input.seconds * 100;
  const audio = await withWorkDir((dir) =>
    encodeAudio({ pcm, sampleRate: input.target.sampleRate, channels: 2 }, input.target, dir, timeoutMs),
  );
  return { audio, format: input.target.format };
}
