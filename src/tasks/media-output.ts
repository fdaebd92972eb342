// Result fields of task types that produce sound or video: outputType decides the field, as for
// images: audioURL / audioBase64Data / audioDataURI, videoURL / videoBase64Data / videoDataURI.

import { CONTENT_TYPES, type MediaFormat } from '../media/media-store.js';

export function mediaOutputFields(
  prefix: 'audio' | 'video',
  outputType: string,
  url: string,
  media: { data: Buffer; format: MediaFormat },
): Record<string, string> {
  if (outputType === 'base64Data') return { [`${prefix}Base64Data`]: media.data.toString('base64') };
  if (outputType === 'dataURI')
    return { [`${prefix}DataURI`]: `data:${CONTENT_TYPES[media.format]};base64,${media.data.toString('base64')}` };
  return { [`${prefix}URL`]: url };
}

/** The same seed as a JSON number when it fits, else as a BigInt (written as an exact integer). */
export function seedValue(seed: bigint): number | bigint {
  return seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seed) : seed;
}
