// Output options shared by every task type that produces an image: outputType decides which
// field carries the image (imageURL, imageBase64Data or imageDataURI), outputFormat its encoding.

import { CONTENT_TYPES, type ImageFormat } from '../media/media-store.js';

export const OUTPUT_TYPES = ['URL', 'base64Data', 'dataURI'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

export const OUTPUT_FORMATS = ['JPG', 'PNG', 'WEBP'] as const;

/** Accepts the documented names in any case (and JPEG for JPG). */
/** A raster format: SVG comes only from vectorize, never from an outputFormat of a raster task. */
export function normalizeFormat(outputFormat: string | undefined): Exclude<ImageFormat, 'svg'> {
  switch ((outputFormat ?? 'JPG').toUpperCase()) {
    case 'PNG':
      return 'png';
    case 'WEBP':
      return 'webp';
    default:
      return 'jpg';
  }
}

export function imageOutputFields(
  outputType: string,
  url: string,
  image: { data: Buffer; format: ImageFormat },
): Record<string, string> {
  if (outputType === 'base64Data') return { imageBase64Data: image.data.toString('base64') };
  if (outputType === 'dataURI')
    return { imageDataURI: `data:${CONTENT_TYPES[image.format]};base64,${image.data.toString('base64')}` };
  return { imageURL: url };
}
