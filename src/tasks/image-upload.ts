// imageUpload: stores an image (data URI, raw base64, an allow-listed URL or an existing
// imageUUID) so later tasks can use its imageUUID as an input. Stored images are kept at most
// 2048 px on the long side; PNG, JPG and WEBP keep their format, anything else is stored as PNG
// (docs/protocol.md, "Task types and their documented limits").

import { Type, type Static } from '@sinclair/typebox';
import { compileValidator } from './validate.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';
import { storeImage } from './stored-image.js';

const ImageUploadParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  image: Type.String({ minLength: 1 }),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof ImageUploadParams>;

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
