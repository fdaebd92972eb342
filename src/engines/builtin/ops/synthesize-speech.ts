// Operation `synthesize-speech`: text to speech with eSpeak NG (a formant synthesizer: clear
// but robotic), then ffmpeg into the caller's format, sample rate, channels and bitrate. Both run
// as child processes under a deadline; the text reaches espeak-ng on stdin, never as an argument.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from './operation-error.js';
import { ChildRunError, runChild } from '../av/child-run.js';
import { encodeAudio, type AudioTarget } from '../av/audio-encode.js';
import { describeFfmpeg, ffmpeg } from '../av/ffmpeg-binary.js';
import { espeak, unsupportedVoiceMessage, voiceArgument } from '../av/espeak.js';
import { withWorkDir } from '../av/work-dir.js';
import type { Availability, OperationContext } from '../operation.js';

export interface SynthesizeSpeechInput {
  text: string;
  /** An eSpeak NG voice (`en-us`, `fr`, `en-us+Annie`, `Annie`); absent means American English. */
  voice?: string;
  /** Varies the pitch a little, so that numberResults > 1 gives distinct takes. */
  seed: bigint;
  target: AudioTarget;
}

export interface EncodedAudio {
  audio: Uint8Array;
  format: AudioTarget['format'];
}

declare module './op-table.js' {
  interface OpTable {
    'synthesize-speech': { input: SynthesizeSpeechInput; output: EncodedAudio };
  }
}

const WORDS_PER_MINUTE = 165;

export function availability(): Availability {
  const e = espeak();
  const f = ffmpeg();
  const parts = [e.ok ? `espeak-ng ${e.version} (${e.path})` : undefined, f.ok ? describeFfmpeg(f) : undefined].filter(
    (p) => p !== undefined,
  );
  const detail = parts.length > 0 ? { detail: parts.join('; ') } : {};
  if (!e.ok) return { ready: false, reason: e.reason, ...detail };
  if (!f.ok) return { ready: false, reason: f.reason, ...detail };
  return { ready: true, ...detail };
}

export async function run(input: SynthesizeSpeechInput, context?: OperationContext): Promise<EncodedAudio> {
  const e = espeak();
  if (!e.ok) throw new OperationError('engineUnavailable', e.reason);
  const voice = voiceArgument(e, input.voice);
  if (voice === undefined) {
    throw new OperationError('unsupportedVoice', unsupportedVoiceMessage(e, String(input.voice)), 'speech.voice');
  }
  const pitch = 35 + Number(input.seed % 31n);
  // Speech runs about 12 characters a second: a generous deadline per character, and a floor.
  const timeoutMs = 30_000 + input.text.length * 20;
  return withWorkDir(async (dir) => {
    const wavFile = join(dir, 'speech.wav');
    try {
      await runChild(
        e.path,
        ['-v', voice, '-p', String(pitch), '-s', String(WORDS_PER_MINUTE), '-b', '1', '-w', wavFile, '--stdin'],
        {
          stdin: Buffer.from(input.text, 'utf8'),
          timeoutMs,
          maxStdoutBytes: 1 << 20,
        },
      );
    } catch (err) {
      if (err instanceof ChildRunError && err.reason === 'timeout')
        throw new OperationError('timeoutProvider', 'Synthesizing the speech took longer than this server allows.');
      throw err;
    }
    // An empty or whitespace-only text gives a header and no samples.
    const wav = await readFile(wavFile);
    if (wav.length <= 44) throw new OperationError('invalidText', 'The text has nothing to speak.', 'speech.text');
    context?.progress(50);
    const audio = await encodeAudio({ wavFile }, input.target, dir, timeoutMs);
    return { audio, format: input.target.format };
  });
}
