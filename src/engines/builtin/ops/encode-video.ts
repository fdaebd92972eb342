// Operation `encode-video`: videoInference's frames, encoded by ffmpeg. With key images (the
// caller's frameImages / inputs images) the camera holds each at its frame, drifts away from it
// (zoom and pan) and cross-fades to the next (av/motion-frames.ts); without any, two procedural
// plasma pictures of the seed and prompt take their place, so the video is the procedural
// renderer animated. Frames are made here, on the pool thread, and piped to ffmpeg.

import sharp from 'sharp';
import { describeFfmpeg, ffmpeg } from '../av/ffmpeg-binary.js';
import { COVER, MotionFrames, type KeyImage } from '../av/motion-frames.js';
import { encodeFrames, type VideoContainer } from '../av/video-encode.js';
import { withWorkDir } from '../av/work-dir.js';
import { renderPlasma } from '../procedural-image.js';
import { asBuffer, type Availability, type OperationContext } from '../operation.js';

export interface VideoKeyImage {
  image: Uint8Array;
  /** `first`, `last`, a frame number, or undefined (spread evenly). */
  frame?: 'first' | 'last' | number;
}

export interface EncodeVideoInput {
  width: number;
  height: number;
  fps: number;
  /** Seconds; the video has round(duration × fps) frames. */
  duration: number;
  format: VideoContainer;
  quality: number;
  seed: bigint;
  /** Part of a procedural video's identity with seed and prompt (the caller's AIR). */
  model: string;
  prompt: string;
  images: VideoKeyImage[];
}

export interface EncodedVideo {
  video: Uint8Array;
  format: VideoContainer;
  width: number;
  height: number;
  frames: number;
}

declare module './op-table.js' {
  interface OpTable {
    'encode-video': { input: EncodeVideoInput; output: EncodedVideo };
  }
}

export function availability(): Availability {
  const f = ffmpeg();
  return f.ok ? { ready: true, detail: describeFfmpeg(f) } : { ready: false, reason: f.reason };
}

export async function run(input: EncodeVideoInput, context?: OperationContext): Promise<EncodedVideo> {
  const { width, height, fps } = input;
  const count = Math.max(1, Math.round(input.duration * fps));
  const coverW = Math.round(width * COVER);
  const coverH = Math.round(height * COVER);
  const keys =
    input.images.length > 0
      ? await keyImages(input.images, coverW, coverH, count)
      : proceduralKeys(input, coverW, coverH, count);
  context?.progress(5);
  const motion = new MotionFrames(keys, width, height, count, `${input.seed}\u0000${input.model}\u0000${input.prompt}`);
  let reported = 5;
  // A deadline of about 50 ms of work per 256×256 frame (the machine may be shared), and a floor.
  const timeoutMs = 60_000 + Math.ceil((count * width * height) / 65_536) * 50;
  const video = await withWorkDir((dir) =>
    encodeFrames(
      {
        width,
        height,
        fps,
        count,
        format: input.format,
        quality: input.quality,
        frame: (i) => motion.frame(i),
        progress: (fraction) => {
          const percent = 5 + Math.floor(fraction * 90);
          if (percent !== reported) context?.progress((reported = percent));
        },
      },
      dir,
      timeoutMs,
    ),
  );
  return { video, format: input.format, width, height, frames: count };
}

async function keyImages(images: VideoKeyImage[], coverW: number, coverH: number, count: number): Promise<KeyImage[]> {
  const last = count - 1;
  const keys = await Promise.all(
    images.map(async (k, i) => {
      const pixels = await sharp(asBuffer(k.image))
        .rotate()
        .resize(coverW, coverH, { fit: 'cover' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer();
      const spread = images.length === 1 ? 0 : Math.round((i * last) / (images.length - 1));
      const at =
        k.frame === 'first'
          ? 0
          : k.frame === 'last'
            ? last
            : k.frame === undefined
              ? spread
              : Math.min(last, Math.max(0, k.frame));
      return { pixels, width: coverW, height: coverH, at };
    }),
  );
  return keys.sort((a, b) => a.at - b.at);
}

function proceduralKeys(input: EncodeVideoInput, coverW: number, coverH: number, count: number): KeyImage[] {
  const first = renderPlasma(coverW, coverH, input.seed, input.model, input.prompt);
  const second = renderPlasma(coverW, coverH, input.seed + 1n, input.model, input.prompt);
  return [
    { pixels: first, width: coverW, height: coverH, at: 0 },
    { pixels: second, width: coverW, height: coverH, at: count - 1 },
  ];
}
