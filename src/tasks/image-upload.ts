// imageUpload: stores an image (data URI, raw base64, an allow-listed URL or an existing
// imageUUID) so later tasks can use its imageUUID as an input. Stored images are kept at most
// 2048 px on the long side; PNG, JPG and WEBP keep their format, anything else is stored as PNG
// (docs/protocol.md, "Task types and their documented limits").

import sharp from 'sharp';
import { Type, type Static } from '@sinclair/typebox';
import type { ImageFormat } from '../media/media-store.js';
import { compileValidator } from './validate.js';
import type { MediaRecord } from '../ledger/types.js';
import type { RecordedTaskModule, TaskCall, TaskRun, TaskServices } from './task-module.js';

const ImageUploadParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  image: Type.String({ minLength: 1 }),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof ImageUploadParams>;

const MAX_SIDE = 2048;
const KEPT_FORMATS: Record<string, ImageFormat> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

export const imageUpload: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'imageUpload',
  validate: compileValidator(ImageUploadParams),
  modelOf: () => null,
  prices: [{ model: '*', perItem: 0 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { services, org } = call;
  const record = await storeImage(services, org.id, call.taskUUID, 'image', call.params.image);
  const price = services.prices.perItem('imageUpload', null);
  const item = {
    taskType: call.taskType,
    taskUUID: call.taskUUID,
    imageUUID: record.mediaUUID,
    imageURL: services.media.urlOf(record),
    ...(call.params.includeCost ? { cost: price } : {}),
  };
  return { engine: 'builtin', results: [{ item, media: [record], cost: price }] };
}

/**
 * Reads an image input (any of the four forms) and stores it as new media of the task, at most
 * 2048 px on the long side. Shared with mediaStorage, which stores uploads the same way.
 */
export async function storeImage(services: TaskServices, orgId: string, taskUUID: string, parameter: string, value: string): Promise<MediaRecord> {
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
