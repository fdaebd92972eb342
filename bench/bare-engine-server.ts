// Second baseline for P1: a bare Fastify server that does the image work runtrail does for a
// 64×64 imageInference (the built-in engine's render and JPEG encode on its thread pool, the
// file written and fsynced by the media store) and nothing else: no validation, authentication
// or recording.
// runtrail against it isolates what recording costs; against bench/bare-server.ts (fixed bytes)
// the figure also carries the engine.
// With --durable (the floor row of P1's recorded imageInference): the request text is made durable
// before the work starts and the answer durable before it is sent (bench/durable-floor.ts), the
// two waits runtrail's promise needs, with none of its schema or protocol work.

import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuiltinEngine } from '../src/engines/builtin/builtin-engine.js';
import { FolderMediaStore } from '../src/media/folder-store.js';
import { openDurableLog } from './durable-floor.js';

const mediaDir = mkdtempSync(join(tmpdir(), 'runtrail-bare-engine-'));
const media = new FolderMediaStore(mediaDir);
const engine = new BuiltinEngine();
const log = process.argv[2] === '--durable' ? openDurableLog() : undefined;

interface Task {
  taskUUID: string;
  model: string;
  positivePrompt: string;
  width: number;
  height: number;
}

const app = Fastify();
app.post('/v1', async (req, res) => {
  const [task] = req.body as Task[];
  const t = task!;
  await log?.recordRequest(t.taskUUID, JSON.stringify(req.body));
  const seed = BigInt(randomInt(1, 2 ** 31));
  const image = await engine.run('procedural-render', {
    width: t.width,
    height: t.height,
    seed,
    model: t.model,
    prompt: t.positivePrompt,
    format: 'jpg',
    quality: 95,
  });
  const record = await media.save('bench', t.taskUUID, {
    data: Buffer.from(image.image),
    format: image.format,
    width: image.width,
    height: image.height,
  });
  const item = {
    taskType: 'imageInference',
    taskUUID: t.taskUUID,
    imageUUID: record.mediaUUID,
    imageURL: media.urlOf(record),
    seed: Number(seed),
    cost: 0.0013,
  };
  const answer = JSON.stringify({ data: [item] });
  await log?.recordResponse(t.taskUUID, answer);
  return res.type('application/json').send(answer);
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
media.publicUrl = address;
process.stdout.write(`runtrail listening on ${address}\n`);
process.on(
  'SIGTERM',
  () =>
    void Promise.all([app.close(), engine.close()]).then(() => {
      log?.close();
      rmSync(mediaDir, { recursive: true, force: true });
      process.exit(0);
    }),
);
