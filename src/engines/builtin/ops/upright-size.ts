// The first step of the operations that analyse a picture: read its size as it stands upright
// (EXIF orientations 5–8 swap the sides) and refuse one over the pixel limit before decoding it.

import sharp, { type Metadata } from 'sharp';
import { OperationError } from './operation-error.js';
import { MAX_INPUT_PIXELS } from './human-files.js';

/** The upright size of an encoded image; `taker` names what refuses a larger one ("this model"). */
export async function uprightSize(bytes: Buffer, taker: string): Promise<{ width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new OperationError(
      'invalidInputImage',
      'The input image is not a readable image (PNG, JPG, WEBP, GIF, TIFF or AVIF).',
    );
  }
  if (!meta.width || !meta.height) throw new OperationError('invalidInputImage', 'The input image has no dimensions.');
  const turned = meta.orientation !== undefined && meta.orientation >= 5;
  const size = turned ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
  if (size.width * size.height > MAX_INPUT_PIXELS) {
    throw new OperationError(
      'invalidInputImage',
      `The input image is ${size.width}×${size.height}; ${taker} takes at most ${MAX_INPUT_PIXELS} pixels (4096×4096).`,
    );
  }
  return size;
}
