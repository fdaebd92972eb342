// How operations hand images back: encoded in the requested format, as a Uint8Array that
// survives structured clone out of a worker thread.

import type { Sharp } from 'sharp';

export type OutputImageFormat = 'png' | 'jpg' | 'webp';

export interface EncodedImage {
  image: Uint8Array;
  format: OutputImageFormat;
  width: number;
  height: number;
}

export async function encodeImage(pipeline: Sharp, format: OutputImageFormat, quality: number): Promise<EncodedImage> {
  const encoded =
    format === 'png'
      ? pipeline.png()
      : format === 'webp'
        ? pipeline.webp({ quality })
        : pipeline.flatten({ background: '#000000' }).jpeg({ quality });
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  return { image: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), format, width: info.width, height: info.height };
}

/** Numbers written into SVG markup: finite, two decimals at most. */
export function svgNumber(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0';
}
