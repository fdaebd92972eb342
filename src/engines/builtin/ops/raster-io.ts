// Decoding input bytes to upright pixels, with the size limit checked first, for the operations
// that take images. Inputs arrive as bytes in any format sharp reads.

import sharp, { type Metadata } from 'sharp';
import { OperationError } from './operation-error.js';
import { asBuffer, type EncodedFormat } from '../operation.js';

export interface ImageEncoding {
  format: EncodedFormat;
  /** 1–100, for JPG and WEBP. */
  quality: number;
}

export interface UprightPhoto {
  /** Interleaved RGB, width × height × 3 bytes (alpha dropped, EXIF orientation applied). */
  rgb: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes `bytes` to upright RGB; refuses images wider or taller than `maxSide` before decoding
 * their pixels, and images whose pixel data is damaged.
 */
export async function decodeUpright(bytes: Uint8Array, maxSide: number, what: string): Promise<UprightPhoto> {
  const input = asBuffer(bytes);
  let meta: Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch {
    throw new OperationError(
      'invalidImage',
      'The image could not be read (PNG, JPG, WEBP, GIF, TIFF or AVIF expected).',
    );
  }

  const swapped = meta.orientation !== undefined && meta.orientation >= 5;
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- sharp's typings say set; a damaged header leaves them out */
  const width = (swapped ? meta.height : meta.width) ?? 0;
  const height = (swapped ? meta.width : meta.height) ?? 0;
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  if (width > maxSide || height > maxSide) {
    throw new OperationError(
      'unsupportedDimensions',
      `The image is ${width}×${height} pixels; ${what} takes images of at most ${maxSide}×${maxSide}.`,
    );
  }
  try {
    const { data, info } = await sharp(input, { failOn: 'error' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { rgb: data, width: info.width, height: info.height };
  } catch {
    throw new OperationError('invalidImage', 'The image data is damaged or truncated and could not be decoded.');
  }
}
