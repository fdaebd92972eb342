// The bad-input suite: malformed JSON, wrong types, out-of-range values,
// missing fields, unknown task types, bad UUIDs, oversized bodies, missing or wrong keys. Every
// case must be answered with the error envelope {"data":[],"errors":[{code,message,…}]} and the
// right HTTP status, and the server must stay healthy afterwards.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { assertErrorEnvelope, type Expected } from './helpers/error-envelope.js';
import { guardOpenHandles } from './helpers/open-handles.js';

interface Case extends Expected {
  name: string;
  /** A body to POST to /v1 with the server's key; or a custom request. */
  body?: string | Uint8Array | unknown[];
  key?: string | null;
  headers?: Record<string, string>;
  request?: (server: TestServer) => Promise<Response>;
}

// ---- case builders ------------------------------------------------------------------------

function inference(overrides: Record<string, unknown>, remove: string[] = []): Record<string, unknown> {
  const t = imageTask(overrides);
  for (const k of remove) delete t[k];
  return t;
}

/** A task that fails validation on `parameter`; the error echoes its taskType and taskUUID. */
function taskCase(
  name: string,
  task: Record<string, unknown>,
  code: string,
  fields: Record<string, unknown> = {},
  message?: string,
): Case {
  return {
    name,
    body: [task],
    status: code === 'taskNotFound' ? 404 : 400,
    code,
    message,
    fields: {
      taskType: typeof task['taskType'] === 'string' ? task['taskType'] : undefined,
      taskUUID: typeof task['taskUUID'] === 'string' ? task['taskUUID'] : undefined,
      ...fields,
    },
  };
}

function wrongType(param: string, value: unknown, type: string, extra: Record<string, unknown> = {}): Case {
  const code = `invalid${param[0]!.toUpperCase()}${param.slice(1)}`;
  return taskCase(
    `imageInference ${param} of the wrong type (${JSON.stringify(value)})`,
    inference({ [param]: value }),
    code,
    {
      parameter: param,
      type,
      ...extra,
    },
  );
}

function outOfRange(
  param: string,
  value: unknown,
  type: string,
  limits: Record<string, unknown>,
  message?: string,
): Case {
  const code = `invalid${param[0]!.toUpperCase()}${param.slice(1)}`;
  return taskCase(
    `imageInference ${param} out of range (${JSON.stringify(value).slice(0, 20)})`,
    inference({ [param]: value }),
    code,
    { parameter: param, type, ...limits },
    message,
  );
}

function missing(param: string, taskType: 'imageInference' | 'imageUpload' = 'imageInference'): Case {
  const task = taskType === 'imageInference' ? inference({}, [param]) : { taskType, taskUUID: uuid() };
  return taskCase(`${taskType} without ${param}`, task, `missing${param[0]!.toUpperCase()}${param.slice(1)}`, {
    parameter: param,
  });
}

function upload(
  name: string,
  image: unknown,
  code = 'invalidImage',
  fields: Record<string, unknown> = {},
  message?: string,
): Case {
  return taskCase(
    `imageUpload ${name}`,
    { taskType: 'imageUpload', taskUUID: uuid(), image },
    code,
    { parameter: 'image', type: 'string', ...fields },
    message,
  );
}

function badUuid(name: string, value: unknown, taskType = 'imageInference'): Case {
  const task = taskType === 'imageInference' ? inference({ taskUUID: value }) : { taskType, taskUUID: value };
  return {
    name: `${taskType} with taskUUID ${name}`,
    body: [task],
    status: 400,
    code: 'invalidTaskUUID',
    fields: {
      parameter: 'taskUUID',
      type: 'string',
      taskType,
      taskUUID: typeof value === 'string' ? value : undefined,
    },
  };
}

function envelope(name: string, body: Case['body'], status: number, code: string, extra: Partial<Case> = {}): Case {
  // Envelope-level errors name no task.
  return { name, body, status, code, fields: { taskUUID: undefined, ...extra.fields }, ...extra };
}

const raw =
  (path: string, init: RequestInit = {}) =>
  (server: TestServer) =>
    fetch(server.url + path, init);

// Runware's generic range, which its AIRs (runware:101@1 here) meet.
const INFERENCE_RANGE = { min: 128, max: 2048, multiplier: 64 };
const u = () => randomUUID();

// ---- the cases ----------------------------------------------------------------------------

function cases(key: string): Case[] {
  const good = JSON.stringify(imageTask());
  return [
    // Malformed and truncated JSON.
    envelope('an empty body', '', 400, 'invalidJSON'),
    envelope('whitespace only', ' \r\n\t', 400, 'invalidJSON'),
    envelope('a lone [', '[', 400, 'invalidJSON'),
    envelope('truncated inside an object', '[{"taskType":"imageInference","taskUUID":"', 400, 'invalidJSON'),
    envelope('truncated after an object', `[${good}`, 400, 'invalidJSON'),
    envelope('truncated after a comma', `[${good},`, 400, 'invalidJSON'),
    envelope('half of a valid body', `[${good}]`.slice(0, 40), 400, 'invalidJSON'),
    envelope('a trailing comma', `[${good},]`, 400, 'invalidJSON'),
    envelope('an extra closing bracket', `[${good}]]`, 400, 'invalidJSON'),
    envelope('text after the array', `[${good}] trailing`, 400, 'invalidJSON'),
    envelope('two arrays', `[${good}][${good}]`, 400, 'invalidJSON'),
    envelope('single-quoted strings', "[{'taskType':'imageInference'}]", 400, 'invalidJSON'),
    envelope('unquoted keys', '[{taskType:"imageInference"}]', 400, 'invalidJSON'),
    envelope('NaN', '[{"taskType":"imageInference","width":NaN}]', 400, 'invalidJSON'),
    envelope('a leading zero', '[{"width":064}]', 400, 'invalidJSON'),
    envelope('a raw newline inside a string', '[{"positivePrompt":"a\nb"}]', 400, 'invalidJSON'),
    envelope('an invalid escape', '[{"positivePrompt":"\\q"}]', 400, 'invalidJSON'),
    envelope('a comment', '/* tasks */ [{}]', 400, 'invalidJSON'),
    envelope('not JSON at all', 'taskType=imageInference&width=64', 400, 'invalidJSON'),
    envelope(
      'invalid UTF-8 (a lone 0xff)',
      Buffer.from([0x5b, 0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x5d]),
      400,
      'invalidJSON',
    ),
    envelope(
      'invalid UTF-8 (overlong encoding)',
      Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]),
      400,
      'invalidJSON',
    ),
    envelope('UTF-16 text', Buffer.from('\ufeff[{"taskType":"ping"}]', 'utf16le'), 400, 'invalidJSON'),
    // Bodies that are not arrays, elements that are not objects.
    envelope('an object body', '{}', 400, 'invalidPayload'),
    envelope('a task object not in an array', good, 400, 'invalidPayload'),
    envelope('a string body', '"[]"', 400, 'invalidPayload'),
    envelope('a number body', '42', 400, 'invalidPayload'),
    envelope('null', 'null', 400, 'invalidPayload'),
    envelope('an empty array', '[]', 400, 'invalidPayload'),
    envelope('a number element', '[1]', 400, 'invalidPayload'),
    envelope('a string element', '["imageInference"]', 400, 'invalidPayload'),
    envelope('a null element', '[null]', 400, 'invalidPayload'),
    envelope('an array element', '[[]]', 400, 'invalidPayload'),
    envelope('a valid task followed by a non-object', `[${good},true]`, 400, 'invalidPayload'),
    // Limits.
    envelope(
      '101 tasks',
      '[' + Array.from({ length: 101 }, () => '{"taskType":"ping"}').join(',') + ']',
      400,
      'tooManyTasks',
    ),
    envelope(
      'nesting 33 levels deep (the limit is 32)',
      '[' + '{"a":'.repeat(32) + '1' + '}'.repeat(32) + ']',
      400,
      'payloadTooDeep',
    ),
    envelope('nesting 200 levels deep', '['.repeat(200) + ']'.repeat(200), 400, 'payloadTooDeep'),
    // Keys.
    envelope('no key at all', [imageTask()], 401, 'missingApiKey', { key: null }),
    envelope('a wrong key', [imageTask()], 401, 'invalidApiKey', { key: 'rt_wrong' + 'x'.repeat(40) }),
    envelope('a key one character short', [imageTask()], 401, 'invalidApiKey', { key: key.slice(0, -1) }),
    envelope('an empty Bearer', [imageTask()], 401, 'invalidApiKey', {
      key: null,
      headers: { authorization: 'Bearer ' },
    }),
    envelope('Basic instead of Bearer', [imageTask()], 401, 'invalidApiKey', {
      key: null,
      headers: { authorization: 'Basic ' + Buffer.from(`user:${key}`).toString('base64') },
    }),
    envelope('the key without a scheme', [imageTask()], 401, 'invalidApiKey', {
      key: null,
      headers: { authorization: key },
    }),
    envelope('two tokens after Bearer', [imageTask()], 401, 'invalidApiKey', {
      key: null,
      headers: { authorization: `Bearer ${key} ${key}` },
    }),
    envelope('a 600-character key', [imageTask()], 401, 'invalidApiKey', { key: 'k'.repeat(600) }),
    envelope(
      'an authentication object with a wrong key',
      [{ taskType: 'authentication', apiKey: 'rt_nope' }, imageTask()],
      401,
      'invalidApiKey',
      {
        key: null,
      },
    ),
    envelope(
      'an authentication object with a numeric key',
      [{ taskType: 'authentication', apiKey: 12345 }, imageTask()],
      401,
      'invalidApiKey',
      {
        key: null,
      },
    ),
    envelope(
      'an authentication object without apiKey',
      [{ taskType: 'authentication' }, imageTask()],
      401,
      'invalidApiKey',
      { key: null },
    ),
    envelope(
      'an authentication object that is not first',
      [imageTask(), { taskType: 'authentication', apiKey: key }],
      401,
      'missingApiKey',
      {
        key: null,
      },
    ),
    envelope(
      'an authentication object and nothing else',
      [{ taskType: 'authentication', apiKey: key }],
      400,
      'invalidPayload',
      { key: null },
    ),
    // Routes and methods.
    envelope('GET /v1', undefined, 405, 'methodNotAllowed', { request: raw('/v1') }),
    envelope('PUT /v1', undefined, 405, 'methodNotAllowed', {
      request: raw('/v1', { method: 'PUT', body: good, headers: { authorization: `Bearer ${key}` } }),
    }),
    envelope('DELETE /v1', undefined, 405, 'methodNotAllowed', { request: raw('/v1', { method: 'DELETE' }) }),
    envelope('GET of an unknown route', undefined, 404, 'notFound', { request: raw('/v2/tasks') }),
    envelope('POST to an unknown route', undefined, 404, 'notFound', {
      request: raw('/v2', { method: 'POST', body: `[${good}]`, headers: { authorization: `Bearer ${key}` } }),
    }),
    envelope('a media URL that does not exist', undefined, 404, 'notFound', {
      request: raw(`/media/sometoken/${u()}.png`),
    }),
    envelope('a media path that is not a media file', undefined, 404, 'notFound', {
      request: raw('/media/x/..%2F..%2Fruntrail.db'),
    }),

    // taskType.
    taskCase('a task without taskType', inference({}, ['taskType']), 'missingTaskType', {
      parameter: 'taskType',
      type: 'string',
    }),
    taskCase('a numeric taskType', inference({ taskType: 5 }), 'invalidTaskType', {
      parameter: 'taskType',
      type: 'string',
    }),
    taskCase('a null taskType', inference({ taskType: null }), 'invalidTaskType', {
      parameter: 'taskType',
      type: 'string',
    }),
    taskCase(
      'an empty taskType',
      inference({ taskType: '' }),
      'unsupportedTaskType',
      { parameter: 'taskType' },
      'imageInference',
    ),
    taskCase(
      'an unknown taskType',
      inference({ taskType: 'textToImage' }),
      'unsupportedTaskType',
      { parameter: 'taskType' },
      'imageInference',
    ),
    taskCase(
      'a taskType in the wrong case',
      inference({ taskType: 'ImageInference' }),
      'unsupportedTaskType',
      { parameter: 'taskType' },
      'imageUpload',
    ),
    taskCase(
      'a misspelled taskType',
      inference({ taskType: 'imageInferance' }),
      'unsupportedTaskType',
      { parameter: 'taskType' },
      'getTaskDetails',
    ),
    // taskUUID.
    taskCase('a task without taskUUID', inference({}, ['taskUUID']), 'missingTaskUUID', {
      parameter: 'taskUUID',
      type: 'string',
    }),
    taskCase('getTaskDetails without taskUUID', { taskType: 'getTaskDetails' }, 'missingTaskUUID', {
      parameter: 'taskUUID',
    }),
    badUuid('""', ''),
    badUuid('"abc"', 'abc'),
    badUuid('as a number', 123),
    badUuid('null', null),
    badUuid('as an object', { uuid: u() }),
    badUuid('in braces', `{${u()}}`),
    badUuid('without dashes', u().replace(/-/g, '')),
    badUuid('with a trailing space', `${u()} `),
    badUuid('with a leading space', ` ${u()}`),
    badUuid('with a non-hex digit', 'g' + u().slice(1)),
    badUuid('as a URN', `urn:uuid:${u()}`),
    badUuid('one digit too long', u() + '0'),
    badUuid(
      'with misplaced dashes',
      u()
        .replace(/-/g, '')
        .replace(/^(.{8})(.{4})(.{4})(.{16})$/, '$1-$2-$3-$4'),
    ),
    badUuid('with full-width digits', '０' + u().slice(1)),
    badUuid('"abc" (getTaskDetails)', 'abc', 'getTaskDetails'),
    badUuid('as a number (getTaskDetails)', 7, 'getTaskDetails'),
    taskCase(
      'an uppercase taskUUID (valid) on a task with a bad width',
      inference({ taskUUID: u().toUpperCase(), width: 100 }),
      'invalidWidth',
      {
        parameter: 'width',
      },
    ),
    taskCase('getTaskDetails of a UUID nobody used', { taskType: 'getTaskDetails', taskUUID: u() }, 'taskNotFound', {
      parameter: 'taskUUID',
      type: 'string',
    }),

    // imageInference: wrong types, one per parameter.
    wrongType('positivePrompt', 5, 'string'),
    wrongType('positivePrompt', ['a cat'], 'string'),
    wrongType('negativePrompt', false, 'string'),
    wrongType('model', 101, 'string'),
    wrongType('width', '64', 'integer', INFERENCE_RANGE),
    wrongType('height', null, 'integer', INFERENCE_RANGE),
    wrongType('steps', '20', 'integer', { min: 1, max: 100 }),
    wrongType('CFGScale', '7.5', 'float', { min: 0, max: 50 }),
    wrongType('scheduler', 3, 'string'),
    wrongType('seed', '42', 'integer', { min: 1 }),
    wrongType('clipSkip', true, 'integer', { min: 0, max: 2 }),
    wrongType('numberResults', '1', 'integer', { min: 1, max: 20 }),
    wrongType('seedImage', 5, 'string'),
    wrongType('maskImage', {}, 'string'),
    wrongType('strength', '0.5', 'float', { min: 0, max: 1 }),
    wrongType('outputType', 1, 'string', { allowedValues: ['URL', 'base64Data', 'dataURI'] }),
    wrongType('outputFormat', ['PNG'], 'string', { allowedValues: ['JPG', 'PNG', 'WEBP'] }),
    wrongType('outputQuality', '90', 'integer', { min: 20, max: 99 }),
    wrongType('includeCost', 'true', 'boolean'),
    wrongType('checkNSFW', 0, 'boolean'),
    wrongType('ttl', '60', 'integer', { min: 60 }),
    wrongType('lora', 'runware:1@1', 'array'),
    wrongType('embeddings', {}, 'array'),
    wrongType('vae', 1, 'string'),
    // imageInference: out of range.
    outOfRange('width', 7, 'integer', INFERENCE_RANGE),
    outOfRange('width', 4096, 'integer', INFERENCE_RANGE),
    outOfRange('width', 100, 'integer', INFERENCE_RANGE, 'multiples of 64'),
    outOfRange('width', 0, 'integer', INFERENCE_RANGE),
    outOfRange('width', -64, 'integer', INFERENCE_RANGE),
    outOfRange('width', 64.5, 'integer', INFERENCE_RANGE),
    outOfRange('height', 2112, 'integer', INFERENCE_RANGE),
    outOfRange('height', 32, 'integer', INFERENCE_RANGE),
    outOfRange('numberResults', 0, 'integer', { min: 1, max: 20 }),
    outOfRange('numberResults', 21, 'integer', { min: 1, max: 20 }),
    outOfRange('outputQuality', 10, 'integer', { min: 20, max: 99 }),
    outOfRange('outputQuality', 100, 'integer', { min: 20, max: 99 }),
    outOfRange('steps', 0, 'integer', { min: 1, max: 100 }),
    outOfRange('steps', 101, 'integer', { min: 1, max: 100 }),
    outOfRange('CFGScale', 51, 'float', { min: 0, max: 50 }),
    outOfRange('CFGScale', -1, 'float', { min: 0, max: 50 }),
    outOfRange('seed', 0, 'integer', { min: 1 }),
    outOfRange('seed', -5, 'integer', { min: 1 }),
    outOfRange('clipSkip', 3, 'integer', { min: 0, max: 2 }),
    outOfRange('strength', 1.5, 'float', { min: 0, max: 1 }),
    outOfRange('strength', -0.1, 'float', { min: 0, max: 1 }),
    outOfRange('ttl', 59, 'integer', { min: 60 }),
    outOfRange('positivePrompt', 'a', 'string', { min: 2, max: 3000 }, '2 to 3000 characters'),
    outOfRange('positivePrompt', '', 'string', { min: 2, max: 3000 }),
    outOfRange('positivePrompt', 'x'.repeat(3001), 'string', { min: 2, max: 3000 }),
    outOfRange('negativePrompt', 'x', 'string', { min: 2, max: 3000 }),
    outOfRange('scheduler', 's'.repeat(101), 'string', { max: 100 }),
    outOfRange('model', 'runware101', 'string', {}, 'AIR'),
    outOfRange('model', '', 'string', {}, 'AIR'),
    outOfRange('model', 'runware:101', 'string', {}, 'AIR'),
    outOfRange('vae', 'not-an-air', 'string', {}, 'AIR'),
    outOfRange('outputType', 'PNG', 'string', { allowedValues: ['URL', 'base64Data', 'dataURI'] }),
    outOfRange('outputType', 'url', 'string', { allowedValues: ['URL', 'base64Data', 'dataURI'] }),
    outOfRange('outputFormat', 'GIF', 'string', { allowedValues: ['JPG', 'PNG', 'WEBP'] }),
    outOfRange('outputFormat', 'Png', 'string', { allowedValues: ['JPG', 'PNG', 'WEBP'] }),
    taskCase(
      'imageInference with 11 LoRAs',
      inference({ lora: Array.from({ length: 11 }, () => ({ model: 'civitai:1@1' })) }),
      'invalidLoraCount',
      {
        parameter: 'lora',
        type: 'object[]',
        // As Runware words a count error: the limits are in the message, not in min/max fields.
        min: undefined,
        max: undefined,
      },
      'between 0 and 10',
    ),
    taskCase(
      'imageInference with a LoRA weight of 5',
      inference({ lora: [{ model: 'civitai:1@1', weight: 5 }] }),
      'invalidWeight',
      {
        parameter: 'lora.0.weight',
        type: 'float',
        min: -4,
        max: 4,
      },
    ),
    taskCase(
      'imageInference with a LoRA whose model is no AIR',
      inference({ lora: [{ model: 'my-lora' }] }),
      'invalidModel',
      { parameter: 'lora.0.model', type: 'string' },
      'AIR',
    ),
    taskCase('imageInference with a LoRA without model', inference({ lora: [{ weight: 1 }] }), 'missingModel', {
      parameter: 'lora.0.model',
    }),
    taskCase('imageInference with a LoRA that is a string', inference({ lora: ['civitai:1@1'] }), 'invalidLora', {
      parameter: 'lora.0',
      type: 'object',
    }),
    // imageInference: missing required parameters.
    missing('positivePrompt'),
    missing('model'),
    missing('width'),
    missing('height'),
    // imageInference: image inputs that cannot be read (checked when the task runs).
    taskCase(
      'imageInference with a seedImage that is no image',
      inference({ seedImage: 'not an image' }),
      'invalidSeedImage',
      {
        parameter: 'seedImage',
        type: 'string',
      },
    ),
    taskCase(
      'imageInference with a seedImage UUID nobody uploaded',
      inference({ seedImage: u() }),
      'invalidSeedImage',
      {
        parameter: 'seedImage',
        type: 'string',
      },
    ),
    taskCase(
      'imageInference with a seedImage data URI that is no image',
      inference({ seedImage: 'data:image/png;base64,AAAAAAAA' }),
      'invalidSeedImage',
      {
        parameter: 'seedImage',
        type: 'string',
      },
    ),
    taskCase(
      'imageInference with a seedImage URL off the allow-list',
      inference({ seedImage: 'https://example.com/cat.png' }),
      'invalidSeedImage',
      {
        parameter: 'seedImage',
        type: 'string',
      },
    ),
    // imageUpload.
    missing('image', 'imageUpload'),
    upload('with a numeric image', 5, 'invalidImage', { type: 'string' }),
    upload('with a null image', null),
    upload('with an array image', ['data:image/png;base64,AAAA']),
    upload('with an empty image', '', 'invalidImage', { min: 1 }),
    upload('with text that is no image', 'hello'),
    upload('with a UUID nobody uploaded', u()),
    upload(
      'with a data URI that is no image',
      'data:image/png;base64,' + Buffer.from('not a png at all').toString('base64'),
    ),
    upload('with raw base64 that is no image', Buffer.from('hello world, hello world').toString('base64')),
    upload('with a URL off the allow-list', 'https://example.com/cat.png', 'invalidImage', {}, 'allow-list'),
    upload('with a loopback URL off the allow-list', 'http://127.0.0.1:9/cat.png', 'invalidImage', {}, 'allow-list'),
    upload('with an ftp URL', 'ftp://example.com/cat.png'),
    taskCase(
      'imageUpload with includeCost "yes"',
      { taskType: 'imageUpload', taskUUID: uuid(), image: 'x', includeCost: 'yes' },
      'invalidIncludeCost',
      {
        parameter: 'includeCost',
        type: 'boolean',
      },
    ),
  ];
}

// ---- running the cases --------------------------------------------------------------------

async function check(server: TestServer, c: Case): Promise<void> {
  let res: Response;
  if (c.request) res = await c.request(server);
  else {
    const key = c.key === undefined ? server.key : c.key;
    const body =
      typeof c.body === 'string' ? c.body : c.body instanceof Uint8Array ? Buffer.from(c.body) : JSON.stringify(c.body);
    res = await fetch(`${server.url}/v1`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...c.headers,
      },
      body,
    });
  }
  const text = await res.text();
  assertErrorEnvelope(res, text, c);
}

describe('bad input over REST', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  const list = cases('placeholder');
  test(`there are at least 100 cases (${list.length})`, () => {
    assert.ok(list.length >= 100);
  });

  // Built per run once the server (and its key) exists; the names are the same.
  for (const [i, c] of list.entries()) {
    test(c.name, async () => {
      const live = cases(server.key)[i]!;
      assert.equal(live.name, c.name);
      await check(server, live);
    });
  }

  test('afterwards the server is healthy: /healthz answers and a valid task succeeds', async () => {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const task = imageTask();
    const run = await server.post([task]);
    assert.equal(run.status, 200, run.text);
    assert.equal(run.json.errors, undefined);
    assert.equal(run.json.data?.[0]?.['taskUUID'], task.taskUUID);
  });
});

describe('limits that need their own server', () => {
  const LIMIT = 4096;
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { RUNTRAIL_MAX_BODY_BYTES: String(LIMIT) } });
  });
  after(async () => {
    await server?.stop();
  });

  /** A valid single-task body padded to exactly `bytes` bytes. */
  function bodyOf(bytes: number): string {
    const head = JSON.stringify([imageTask({ padding: '' })]);
    const body = head.replace('"padding":""', `"padding":"${'p'.repeat(bytes - head.length)}"`);
    assert.equal(Buffer.byteLength(body), bytes);
    return body;
  }

  test('a body of exactly RUNTRAIL_MAX_BODY_BYTES is accepted', async () => {
    const res = await server.post(bodyOf(LIMIT));
    assert.equal(res.status, 200, res.text);
  });

  test('one byte more is payloadTooLarge (413)', async () => {
    const res = await fetch(`${server.url}/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.key}` },
      body: bodyOf(LIMIT + 1),
    });
    assertErrorEnvelope(res, await res.text(), { status: 413, code: 'payloadTooLarge' });
  });

  test('a large body without any key is payloadTooLarge too (nothing is read past the limit)', async () => {
    const res = await fetch(`${server.url}/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bodyOf(LIMIT * 4),
    });
    assertErrorEnvelope(res, await res.text(), { status: 413, code: 'payloadTooLarge' });
  });

  test('a chunked body (no content-length) over the limit is payloadTooLarge', async () => {
    // node:http rather than fetch: the server answers 413 before the upload ends, and fetch
    // drops such early answers.
    const url = new URL(`${server.url}/v1`);
    const res = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/v1',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${server.key}` },
        },
        (r) => {
          let text = '';
          r.setEncoding('utf8').on('data', (d: string) => (text += d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), text }));
          r.on('error', reject);
        },
      );
      req.on('error', () => undefined); // the server may close before the upload finished
      req.write('[');
      let chunks = 0;
      const timer = setInterval(() => {
        if (chunks++ >= 16) {
          clearInterval(timer);
          req.end(']');
        } else req.write(' '.repeat(1024));
      }, 2);
    });
    assertErrorEnvelope({ status: res.status, headers: new Headers({ 'content-type': res.type }) }, res.text, {
      status: 413,
      code: 'payloadTooLarge',
    });
  });

  test('the server is healthy after oversized bodies', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const res = await server.post([imageTask()]);
    assert.equal(res.status, 200, res.text);
  });
});

guardOpenHandles();
