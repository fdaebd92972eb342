// How an uploaded image is stored (imageUpload, mediaStorage): at most 2048 px on the long side
// (docs/protocol.md); PNG, JPG and WEBP keep their format, anything else is stored as PNG.

import sharp from 'sharp';
import type { ImageFormat } from '../media/media-store.js';
import type { MediaRecord } from '../ledger/types.js';
import type { TaskServices } from './task-module.js';

const MAX_SIDE = 2048;
const KEPT_FORMATS: Record<string, ImageFormat> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

/**
 * Reads an image input (any of the four forms) and stores it as new media of the task, at most
 * 2048 px on the long side. imageUpload and
 * mediaStorage both store uploads this way.
 */
export async function storeImage(
  services: TaskServices,
  orgId: string,
  taskUUID: string,
  parameter: string,
  value: string,
): Promise<MediaRecord> {
  const input = await services.imageInputs.resolve(orgId, parameter, value);
  const format = KEPT_FORMATS[input.format] ?? 'png';
  let data = input.data;
  let { width, height } = input;
  if (Math.max(width, height) > MAX_SIDE || KEPT_FORMATS[input.format] === undefined) {
    const pipeline = sharp(input.data).rotate().resize(MAX_SIDE, MAX_SIDE, { fit: 'inside', withoutEnlargement: true });
    const out = await pipeline.toFormat(format === 'jpg' ? 'jpeg' : format).toBuffer({ resolveWithObject: true });
    data = out.data;
    width = out.info.width;
    height = out.info.height;
  }
  return services.media.save(orgId, taskUUID, { data, format, width, height });
}
