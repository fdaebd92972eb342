// Encodes sound with ffmpeg into the formats audioInference offers, at the caller's sample rate,
// channel count and (lossy formats) bitrate. The input is a WAV file (espeak-ng's output) or raw
// 16-bit PCM fed through stdin (the procedural generator's).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from '../ops/operation-error.js';
import { ChildRunError, runChild, writeAll } from './child-run.js';
import { describeFfmpeg, ffmpeg, type FfmpegFound } from './ffmpeg-binary.js';

export type AudioContainer = 'mp3' | 'wav' | 'flac' | 'ogg';

export interface AudioTarget {
  format: AudioContainer;
  sampleRate: number;
  channels: 1 | 2;
  /** kbit/s for MP3 and OGG; lossless formats ignore it. */
  bitrate: number;
}

export type AudioSource = { wavFile: string } | { pcm: Int16Array; sampleRate: number; channels: 1 | 2 };

/** Files larger than this are refused by ffmpeg itself (-fs) and by us. */
export const MAX_AUDIO_BYTES = 128 << 20;
const PCM_CHUNK_SAMPLES = 1 << 16;

export function requireFfmpeg(kind: AudioContainer | 'mp4' | 'webm' | 'mov'): FfmpegFound {
  const f = ffmpeg();
  if (!f.ok) throw new OperationError('engineUnavailable', f.reason);
  if (f.missing.includes(kind))
    throw new OperationError('engineUnavailable', `${describeFfmpeg(f)}: cannot encode ${kind}`);
  return f;
}

export async function encodeAudio(
  source: AudioSource,
  target: AudioTarget,
  dir: string,
  timeoutMs: number,
): Promise<Buffer> {
  const f = requireFfmpeg(target.format);
  const output = join(dir, `out.${target.format}`);
  const input =
    'wavFile' in source
      ? ['-i', source.wavFile]
      : ['-f', 's16le', '-ar', String(source.sampleRate), '-ac', String(source.channels), '-i', 'pipe:0'];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-threads',
    '1',
    ...input,
    '-vn',
    '-map_metadata',
    '-1',
    '-fflags',
    '+bitexact',
    '-ar',
    String(target.sampleRate),
    '-ac',
    String(target.channels),
    ...codecArgs(target),
    '-fs',
    String(MAX_AUDIO_BYTES),
    '-y',
    output,
  ];
  const stdin = 'pcm' in source ? feedPcm(source.pcm) : undefined;
  try {
    await runChild(f.path, args, { timeoutMs, maxStdoutBytes: 1 << 20, ...(stdin ? { stdin } : {}) });
  } catch (err) {
    throw encoderFailure(err, 'audio');
  }
  const bytes = await readFile(output);
  if (bytes.length >= MAX_AUDIO_BYTES)
    throw new OperationError(
      'invalidDuration',
      'The encoded audio would be too large; ask for a shorter one or a lower bitrate.',
      'duration',
    );
  return bytes;
}

function codecArgs(t: AudioTarget): string[] {
  switch (t.format) {
    case 'mp3':
      return ['-c:a', 'libmp3lame', '-b:a', `${t.bitrate}k`, '-f', 'mp3'];
    case 'ogg':
      return ['-c:a', 'libvorbis', '-b:a', `${t.bitrate}k`, '-f', 'ogg'];
    case 'flac':
      return ['-c:a', 'flac', '-f', 'flac'];
    case 'wav':
      return ['-c:a', 'pcm_s16le', '-f', 'wav'];
  }
}

function feedPcm(pcm: Int16Array): (stdin: import('node:stream').Writable) => Promise<void> {
  return async (stdin) => {
    for (let i = 0; i < pcm.length; i += PCM_CHUNK_SAMPLES) {
      const part = pcm.subarray(i, Math.min(pcm.length, i + PCM_CHUNK_SAMPLES));
      await writeAll(stdin, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
  };
}

/** An encoder run that failed: a timeout is the caller's to know about; anything else is ours. */
export function encoderFailure(err: unknown, what: 'audio' | 'video'): Error {
  if (err instanceof ChildRunError && err.reason === 'timeout') {
    return new OperationError(
      'timeoutProvider',
      `Encoding the ${what} took longer than this server allows; ask for less.`,
    );
  }
  if (err instanceof ChildRunError) {
    const detail = err.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
    return new Error(`${err.message}${detail ? `: ${detail}` : ''}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
