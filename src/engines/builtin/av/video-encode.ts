// Encodes raw RGB frames with ffmpeg: H.264 in MP4 or QuickTime MOV, VP9 in WebM, 4:2:0 so that
// every player takes them. Frames are produced one at a time and piped with backpressure, so
// memory stays at a few frames whatever the length.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from '../ops/operation-error.js';
import { encoderFailure, requireFfmpeg } from './audio-encode.js';
import { runChild, writeAll } from './child-run.js';

export type VideoContainer = 'mp4' | 'webm' | 'mov';

export interface FrameSource {
  width: number;
  height: number;
  fps: number;
  count: number;
  format: VideoContainer;
  /** outputQuality, 20–99: higher is better and larger. */
  quality: number;
  frame(index: number): Uint8Array | Promise<Uint8Array>;
  /** Fraction of frames handed to the encoder so far. */
  progress?: (fraction: number) => void;
}

export const MAX_VIDEO_BYTES = 512 << 20;

export async function encodeFrames(source: FrameSource, dir: string, timeoutMs: number): Promise<Buffer> {
  const f = requireFfmpeg(source.format);
  const output = join(dir, `out.${source.format}`);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${source.width}x${source.height}`,
    '-framerate',
    String(source.fps),
    '-i',
    'pipe:0',
    '-an',
    '-map_metadata',
    '-1',
    '-threads',
    '2',
    ...codecArgs(source.format, source.quality),
    '-fs',
    String(MAX_VIDEO_BYTES),
    '-y',
    output,
  ];
  const feed = async (stdin: import('node:stream').Writable) => {
    for (let i = 0; i < source.count; i++) {
      // A copy: the frame buffer is reused for the next frame while this one may still be queued in the pipe.
      const frame = await source.frame(i);
      await writeAll(stdin, Uint8Array.from(frame));
      source.progress?.((i + 1) / source.count);
    }
  };
  try {
    await runChild(f.path, args, { stdin: feed, timeoutMs, maxStdoutBytes: 1 << 20 });
  } catch (err) {
    throw encoderFailure(err, 'video');
  }
  const bytes = await readFile(output);
  if (bytes.length >= MAX_VIDEO_BYTES)
    throw new OperationError(
      'invalidOutputQuality',
      'The encoded video would be too large; ask for a lower outputQuality, size or duration.',
      'outputQuality',
    );
  return bytes;
}

/** Constant-quality encoding: outputQuality 20–99 maps onto each codec's useful CRF range. */
function codecArgs(format: VideoContainer, quality: number): string[] {
  const q = (Math.min(99, Math.max(20, quality)) - 20) / 79; // 0 … 1
  if (format === 'webm') {
    const crf = Math.round(50 - q * 22); // 50 … 28
    return [
      '-c:v',
      'libvpx-vp9',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-row-mt',
      '1',
      '-crf',
      String(crf),
      '-b:v',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-f',
      'webm',
    ];
  }
  const crf = Math.round(38 - q * 20); // 38 … 18
  const h264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-pix_fmt', 'yuv420p'];
  return format === 'mov' ? [...h264, '-f', 'mov'] : [...h264, '-movflags', '+faststart', '-f', 'mp4'];
}
