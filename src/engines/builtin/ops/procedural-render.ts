// Operation `procedural-render`: one deterministic plasma picture (procedural-image.ts), blended
// over an input image for image-to-image, encoded. Pure CPU work in JavaScript, which is why it
// runs in the pool: a 2048×2048 render holds its thread for about a second.

import sharp from 'sharp';
import { renderPlasma } from '../procedural-image.js';
import { encodeAs } from '../encode.js';
import {
  asBuffer,
  type Availability,
  type EncodedFormat,
  type EncodedImage,
  type OperationContext,
} from '../operation.js';

export interface ProceduralRenderInput {
  width: number;
  height: number;
  seed: bigint;
  /** Part of the picture's identity with seed and prompt (the caller's AIR, so answers stay stable). */
  model: string;
  prompt: string;
  format: EncodedFormat;
  quality: number;
  /** Image-to-image: the input's encoded bytes and how strongly to transform it (0..1). */
  base?: { image: Uint8Array; strength: number };
}

declare module './op-table.js' {
  interface OpTable {
    'procedural-render': { input: ProceduralRenderInput; output: EncodedImage };
  }
}

export function availability(): Availability {
  return { ready: true };
}

export async function run(input: ProceduralRenderInput, context?: OperationContext): Promise<EncodedImage> {
  const { width, height } = input;
  const pixels = renderPlasma(width, height, input.seed, input.model, input.prompt);
  // Drawing and encoding take about the same time.
  context?.progress(50);
  if (input.base) {
    const base = await sharp(asBuffer(input.base.image))
      .resize(width, height, { fit: 'cover' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    const s = input.base.strength;
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(base[i]! * (1 - s) + pixels[i]! * s);
  }
  const image = await encodeAs(
    sharp(pixels, { raw: { width, height, channels: 3 } }),
    input.format,
    input.quality,
  ).toBuffer();
  return { image, format: input.format, width, height };
}
