// The last step of every image operation: encode in the requested format. JPEG has no alpha,
// so transparent areas become white rather than black.

import type { Sharp } from 'sharp';
import type { EncodedFormat } from './operation.js';

export function encodeAs(pipeline: Sharp, format: EncodedFormat, quality: number): Sharp {
  if (format === 'png') return pipeline.png();
  if (format === 'webp') return pipeline.webp({ quality });
  return pipeline.flatten({ background: '#ffffff' }).jpeg({ quality });
}
