// Result fields of task types whose image is not called `image`: imageMasking answers
// maskImageURL / maskImageBase64Data / maskImageDataURI, controlNetPreprocess guideImage…, with
// the same outputType rules as every image result.

import type { ImageFormat } from '../media/media-store.js';
import { ProtocolError } from '../protocol/errors.js';
import { imageOutputFields } from './image-output.js';

export function namedImageOutputFields(
  prefix: 'maskImage' | 'guideImage',
  outputType: string,
  url: string,
  image: { data: Buffer; format: ImageFormat },
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(imageOutputFields(outputType, url, image)).map(([key, value]) => [
      key.replace(/^image/, prefix),
      value,
    ]),
  );
}

/** The input image as the caller named it: legacy root `inputImage` or `inputs.image`. */
export function inputImageOf(p: { inputImage?: string; inputs?: { image?: string } }): {
  parameter: string;
  source: string;
} {
  if (p.inputs?.image !== undefined) return { parameter: 'inputs.image', source: p.inputs.image };
  if (p.inputImage !== undefined) return { parameter: 'inputImage', source: p.inputImage };
  throw new ProtocolError(
    'missingInputImage',
    { parameter: 'inputImage', hint: "It may be given as 'inputs.image' instead." },
    { parameter: 'inputImage', type: 'string' },
  );
}

/**
 * An operation's refusal of the input image names no parameter (operations do not know the
 * protocol): give it the one the caller used, and the code Runware uses for that name.
 */
export function withImageParameter(err: unknown, parameter: string): unknown {
  if (err instanceof ProtocolError && err.code === 'invalidInputImage' && err.details.parameter === undefined) {
    const code = parameter === 'inputs.image' ? 'invalidImage' : 'invalidInputImage';
    return ProtocolError.relayed(code, err.message, { parameter, type: 'string' });
  }
  return err;
}
