// Operation `lanczos-upscale`: resizes an image to the given size with Lanczos resampling
// (sharp's lanczos3), after turning it upright by its EXIF orientation. A resampler, not a learned
// upscaler: it adds no detail.

import sharp from 'sharp';
import { OperationError } from './operation-error.js';
import { encodeAs } from '../encode.js';
import { asBuffer, type Availability, type EncodedFormat, type EncodedImage } from '../operation.js';

export interface LanczosUpscaleInput {
  image: Uint8Array;
  /** The output size (the task module applies the factor and the output cap). */
  width: number;
  height: number;
  format: EncodedFormat;
  quality: number;
}

declare module './op-table.js' {
  interface OpTable {
    'lanczos-upscale': { input: LanczosUpscaleInput; output: EncodedImage };
  }
}

export function availability(): Availability {
  return { ready: true };
}

export async function run(input: LanczosUpscaleInput): Promise<EncodedImage> {
  let image: Buffer;
  try {
    const pipeline = sharp(asBuffer(input.image))
      .rotate()
      .resize(input.width, input.height, { kernel: 'lanczos3', fit: 'fill' });
    image = await encodeAs(pipeline, input.format, input.quality).toBuffer();
  } catch (err) {
    throw new OperationError(
      'invalidInputImage',
      `The input image could not be decoded (${(err as Error).message}).`,
      'inputImage',
    );
  }
  return { image, format: input.format, width: input.width, height: input.height };
}
