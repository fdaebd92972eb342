// Helpers the people operations share: the encoded result in the core's shape, and numbers
// written into SVG markup.

import type { Sharp } from 'sharp';
import { encodeAs } from '../encode.js';
import type { EncodedFormat, EncodedImage } from '../operation.js';

/** Encodes the pipeline's image and says what came out. */
export async function encodeImage(pipeline: Sharp, format: EncodedFormat, quality: number): Promise<EncodedImage> {
  const { data, info } = await encodeAs(pipeline, format, quality).toBuffer({ resolveWithObject: true });
  return { image: data, format, width: info.width, height: info.height };
}

/** Numbers written into SVG markup: finite, two decimals at most. */
export function svgNumber(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0';
}
