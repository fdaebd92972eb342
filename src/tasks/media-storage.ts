// mediaStorage: the current name of upload (docs/protocol.md, task types). `upload` stores an image exactly
// as imageUpload does and answers with mediaUUID/mediaURL; `delete` forgets one of the caller's
// organization's media (uploaded or produced) and removes its file. Only images are stored.

import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { storeImage } from './stored-image.js';
import { compileValidator, oneOf } from './validate.js';
import type { RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

const MediaStorageParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  operation: Type.Optional(oneOf(['upload', 'delete'] as const)),
  media: Type.String({ minLength: 1 }),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof MediaStorageParams>;

export const mediaStorage: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'mediaStorage',
  validate: compileValidator(MediaStorageParams),
  modelOf: () => null,
  prices: [{ model: '*', perItem: 0 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const head = { taskType: call.taskType, taskUUID: call.taskUUID };
  if (p.operation === 'delete') {
    const invalid = (why: string) =>
      new ProtocolError('invalidMedia', { parameter: 'media', reason: why }, { parameter: 'media', type: 'string' });
    if (!looksLikeUuid(p.media)) throw invalid('To delete, give the mediaUUID of an uploaded or produced image.');
    const record = await services.ledger.deleteMedia(org.id, p.media);
    if (!record) throw invalid('No media with this UUID exists in your organization.');
    await services.media.remove(record);
    return {
      engine: null,
      results: [{ item: { ...head, operation: 'delete', mediaUUID: p.media }, media: [], cost: 0 }],
    };
  }
  const record = await storeImage(services, org.id, call.taskUUID, 'media', p.media);
  const price = services.prices.perItem('mediaStorage', null);
  const item = {
    ...head,
    operation: 'upload',
    mediaUUID: record.mediaUUID,
    mediaURL: services.media.urlOf(record),
    ...(p.includeCost ? { cost: price } : {}),
  };
  return { engine: 'builtin', results: [{ item, media: [record], cost: price }] };
}
