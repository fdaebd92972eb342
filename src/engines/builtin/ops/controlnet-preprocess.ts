// Operation `controlnet-preprocess`: turns a photo into a ControlNet guide image. `canny` edges
// (our own Canny), `tile` (the picture blurred by a ×8 shrink and re-enlargement), `shuffle`
// (the content swirled by a smooth random warp, seeded), and `openpose` (the OpenPose-style
// skeleton drawn from MoveNet's body keypoints, with HandTrack hands and face-mesh points).

import sharp from 'sharp';
import { OperationError } from './operation-error.js';
import { uprightSize } from './upright-size.js';
import { humanAvailability } from './human-files.js';
import { cannyEdges } from './canny-edges.js';
import { poseSvg } from './openpose-drawing.js';
import { encodeImage } from './encode-image.js';
import type { Availability, EncodedFormat, EncodedImage } from '../operation.js';

export const PREPROCESSORS = ['canny', 'tile', 'shuffle', 'openpose'] as const;
export type Preprocessor = (typeof PREPROCESSORS)[number];

export interface ControlNetPreprocessInput {
  image: Uint8Array;
  preprocessor: Preprocessor;
  /** Resize the input to this size first (one side given: the other keeps the aspect ratio). */
  width?: number;
  height?: number;
  /** Canny hysteresis thresholds, 0–255. */
  lowThreshold: number;
  highThreshold: number;
  /** openpose: draw hands and face landmarks as well as the body. */
  includeHandsAndFace: boolean;
  /** shuffle: the warp's seed. */
  seed: number;
  format: EncodedFormat;
  quality: number;
}

export type ControlNetPreprocessOutput = EncodedImage;

declare module './op-table.js' {
  interface OpTable {
    'controlnet-preprocess': { input: ControlNetPreprocessInput; output: ControlNetPreprocessOutput };
  }
}

/** canny, tile and shuffle need nothing installed; openpose needs Human's models. */
export function availability(): Availability {
  return humanAvailability();
}

export async function run(input: ControlNetPreprocessInput): Promise<ControlNetPreprocessOutput> {
  const { pixels, width, height } = await decodeResized(input);
  const raw = { raw: { width, height, channels: 3 as const } };
  switch (input.preprocessor) {
    case 'canny': {
      const grey = greyscale(pixels, width, height);
      const edges = cannyEdges(grey, width, height, input.lowThreshold, input.highThreshold);
      return encodeImage(
        sharp(Buffer.from(edges.buffer, edges.byteOffset, edges.byteLength), { raw: { width, height, channels: 1 } }),
        input.format,
        input.quality,
      );
    }
    case 'tile': {
      // The tile ControlNet wants detail removed but layout kept: an area shrink, a cubic enlargement.
      const small = await sharp(Buffer.from(pixels), raw)
        .resize(Math.max(1, Math.round(width / 8)), Math.max(1, Math.round(height / 8)), {
          kernel: 'mitchell',
          fit: 'fill',
        })
        .png()
        .toBuffer();
      return encodeImage(
        sharp(small).resize(width, height, { kernel: 'cubic', fit: 'fill' }),
        input.format,
        input.quality,
      );
    }
    case 'shuffle': {
      const shuffled = shuffleContent(pixels, width, height, input.seed);
      return encodeImage(
        sharp(Buffer.from(shuffled.buffer, shuffled.byteOffset, shuffled.byteLength), raw),
        input.format,
        input.quality,
      );
    }
    case 'openpose': {
      const png = await sharp(Buffer.from(pixels), raw).png({ compressionLevel: 1 }).toBuffer();
      const { detectPeople } = await import('./human-runtime.js');
      const found = await detectPeople(new Uint8Array(png.buffer, png.byteOffset, png.byteLength), {
        bodies: true,
        hands: input.includeHandsAndFace,
        faces: input.includeHandsAndFace,
        mesh: input.includeHandsAndFace,
        minConfidence: 0.3,
        maxDetected: 20,
      });
      return encodeImage(
        sharp(Buffer.from(poseSvg(width, height, found))).flatten({ background: '#000000' }),
        input.format,
        input.quality,
      );
    }
  }
}

async function decodeResized(
  input: ControlNetPreprocessInput,
): Promise<{ pixels: Uint8Array; width: number; height: number }> {
  const bytes = Buffer.from(input.image.buffer, input.image.byteOffset, input.image.byteLength);
  const { width: w0, height: h0 } = await uprightSize(bytes, 'the preprocessors');
  const width = input.width ?? (input.height !== undefined ? Math.max(1, Math.round((w0 * input.height) / h0)) : w0);
  const height = input.height ?? (input.width !== undefined ? Math.max(1, Math.round((h0 * input.width) / w0)) : h0);
  try {
    const data = await sharp(bytes)
      .rotate()
      .resize(width, height, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
  } catch {
    throw new OperationError('invalidInputImage', 'The input image could not be decoded.');
  }
}

function greyscale(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3)
    out[i] = Math.round(0.299 * rgb[j]! + 0.587 * rgb[j + 1]! + 0.114 * rgb[j + 2]!);
  return out;
}

/** mulberry32: a small seeded generator, so a seed always gives the same warp. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Content shuffle as ControlNet's shuffle preprocessor does it: every output pixel samples the
 * input at a position given by two smooth random fields (noise on a grid one cell per 256 px,
 * interpolated and stretched to 0–1), so colours and textures stay but the layout is scrambled.
 */
export function shuffleContent(rgb: Uint8Array, width: number, height: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const cell = 256;
  const gw = Math.floor(width / cell) + 2;
  const gh = Math.floor(height / cell) + 2;
  const field = () => {
    const grid = Float64Array.from({ length: gw * gh }, random);
    const values = new Float32Array(width * height);
    let min = Infinity;
    let max = -Infinity;
    for (let y = 0; y < height; y++) {
      const gy = (y / Math.max(1, height - 1)) * (gh - 1);
      const y0 = Math.min(gh - 2, Math.floor(gy));
      const ty = smooth(gy - y0);
      for (let x = 0; x < width; x++) {
        const gx = (x / Math.max(1, width - 1)) * (gw - 1);
        const x0 = Math.min(gw - 2, Math.floor(gx));
        const tx = smooth(gx - x0);
        const top = grid[y0 * gw + x0]! * (1 - tx) + grid[y0 * gw + x0 + 1]! * tx;
        const bottom = grid[(y0 + 1) * gw + x0]! * (1 - tx) + grid[(y0 + 1) * gw + x0 + 1]! * tx;
        const v = top * (1 - ty) + bottom * ty;
        values[y * width + x] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    const span = max - min || 1;
    for (let i = 0; i < values.length; i++) values[i] = (values[i]! - min) / span;
    return values;
  };
  const fx = field();
  const fy = field();
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < width * height; i++) {
    const sx = Math.min(width - 1, Math.round(fx[i]! * (width - 1)));
    const sy = Math.min(height - 1, Math.round(fy[i]! * (height - 1)));
    const from = (sy * width + sx) * 3;
    out[i * 3] = rgb[from]!;
    out[i * 3 + 1] = rgb[from + 1]!;
    out[i * 3 + 2] = rgb[from + 2]!;
  }
  return out;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}
