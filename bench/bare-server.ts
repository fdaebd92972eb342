// Baseline for the REST benchmarks: a bare Fastify server that answers POST /v1 with a fixed
// imageInference-shaped reply, with no parsing, validation, recording or rendering.

import Fastify from 'fastify';

const reply =
  '{"data":[{"taskType":"imageInference","taskUUID":"a770f077-f413-47de-9dac-be0b26a35da6","imageUUID":"77da2d99-a6d3-44d9-b8c0-ae9fb06b6200","imageURL":"http://127.0.0.1/media/abcdefghijklmnopqrstuv/77da2d99-a6d3-44d9-b8c0-ae9fb06b6200.jpg","seed":1234,"cost":0.0013}]}';

const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/v1', async (_req, res) => res.type('application/json').send(reply));
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`runtrail listening on ${address}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
