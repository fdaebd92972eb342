// The hostile request corpus of R2 (docs/performance.md): request bodies generated from a few valid tasks by
// truncating, mutating, inflating, nesting, retyping and re-spelling them, each with the answer
// the protocol requires (an error code, its HTTP status and fields, or the task's data). The
// same list drives REST and WebSocket (test/hostile-corpus.test.ts); raw-HTTP and frame-level
// cases live in the test itself.

import { gzipSync } from 'node:zlib';

export const CATEGORIES = [
  'truncated JSON',
  'malformed JSON',
  'not an array',
  'huge values',
  'deep nesting',
  'wrong types',
  'number spellings',
  'duplicate keys',
  'invalid UTF-8',
  'lone surrogates',
  'prototype keys',
  'content types',
  'empty bodies',
] as const;
export type Category = (typeof CATEGORIES)[number];

export type Outcome =
  /** An error envelope holding exactly this error (fields: exact values; `undefined`: absent). */
  | { kind: 'error'; status: number; code: string; fields: Record<string, unknown> }
  /** The task ran: one data item of this task. */
  | { kind: 'data'; taskType: string; taskUUID: string };

export interface HostileCase {
  category: Category;
  name: string;
  body: string | Buffer;
  expect: Outcome;
  /** Request headers besides Authorization (REST only). */
  headers?: Record<string, string>;
  /** Sent without an Authorization header: the body authenticates itself or not (REST only). */
  noAuthHeader?: boolean;
}

/** Cases that mean something over REST only (headers, body authentication, several elements). */
export function restOnly(c: HostileCase): boolean {
  return c.headers !== undefined || c.noAuthHeader === true || c.category === 'content types';
}

export interface CorpusOptions {
  /** The server's API key (for authentication objects in bodies). */
  key: string;
  /** A fresh canonical UUID per call; the REST and WebSocket runs use distinct ones. */
  uuid: () => string;
  /** RUNTRAIL_MAX_BODY_BYTES of the server under test. */
  maxBodyBytes: number;
}

export const PNG_1X1 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

type Task = Record<string, unknown>;
type TaskTypeName = 'imageInference' | 'imageUpload' | 'upscale' | 'modelSearch' | 'getTaskDetails' | 'getResponse';
type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';

/** Valid tasks of each type: every case starts from one of them. */
function validTask(taskType: TaskTypeName, uuid: () => string): Task {
  const taskUUID = uuid();
  switch (taskType) {
    case 'imageInference':
      // Multi-byte characters of 2, 3 and 4 UTF-8 bytes, for cuts inside a character.
      return {
        taskType,
        taskUUID,
        model: 'runware:101@1',
        positivePrompt: 'a café at dusk ☕ 🐱',
        width: 128,
        height: 128,
        seed: 7,
        outputFormat: 'PNG',
      };
    case 'imageUpload':
      return { taskType, taskUUID, image: PNG_1X1 };
    case 'upscale':
      return { taskType, taskUUID, inputImage: PNG_1X1, upscaleFactor: 2 };
    case 'modelSearch':
      return { taskType, taskUUID, search: 'plasma', tags: ['a'], limit: 5 };
    default:
      return { taskType, taskUUID };
  }
}

/** Every parameter of each task type with its JSON kind (the schemas in src/tasks/, plus delivery options). */
const PARAMETERS: Record<TaskTypeName, Record<string, Kind>> = {
  imageInference: {
    taskType: 'string',
    taskUUID: 'string',
    positivePrompt: 'string',
    negativePrompt: 'string',
    model: 'string',
    width: 'integer',
    height: 'integer',
    steps: 'integer',
    CFGScale: 'number',
    scheduler: 'string',
    seed: 'integer',
    clipSkip: 'integer',
    numberResults: 'integer',
    seedImage: 'string',
    maskImage: 'string',
    strength: 'number',
    outputType: 'string',
    outputFormat: 'string',
    outputQuality: 'integer',
    includeCost: 'boolean',
    checkNSFW: 'boolean',
    ttl: 'integer',
    lora: 'array',
    embeddings: 'array',
    vae: 'string',
    deliveryMethod: 'string',
    webhookURL: 'string',
    uploadEndpoint: 'string',
  },
  imageUpload: { taskType: 'string', taskUUID: 'string', image: 'string', includeCost: 'boolean' },
  upscale: {
    taskType: 'string',
    taskUUID: 'string',
    inputImage: 'string',
    inputs: 'object',
    upscaleFactor: 'integer',
    model: 'string',
    outputType: 'string',
    outputFormat: 'string',
    outputQuality: 'integer',
    includeCost: 'boolean',
  },
  modelSearch: {
    taskType: 'string',
    taskUUID: 'string',
    search: 'string',
    tags: 'array',
    category: 'string',
    type: 'string',
    architecture: 'string',
    conditioning: 'string',
    visibility: 'string',
    limit: 'integer',
    offset: 'integer',
  },
  getTaskDetails: { taskType: 'string', taskUUID: 'string' },
  getResponse: { taskType: 'string', taskUUID: 'string' },
};

/** One value of each JSON kind; a parameter gets every one that is not of its own kind. */
const SWAPS: { kind: Kind | 'null'; value: unknown }[] = [
  { kind: 'string', value: '64' },
  { kind: 'number', value: 2.5 },
  { kind: 'boolean', value: true },
  { kind: 'null', value: null },
  { kind: 'array', value: [1] },
  { kind: 'object', value: { a: 1 } },
];

function wrongFor(kind: Kind, swap: Kind | 'null'): boolean {
  if (swap === kind) return false;
  if (kind === 'number' && swap === 'number') return false;
  return true;
}

/** Numeric parameters and what the schemas accept (src/tasks/*.ts). */
const NUMERIC: {
  taskType: TaskTypeName;
  parameter: string;
  integer: boolean;
  min: number;
  max?: number;
  multipleOf?: number;
}[] = [
  { taskType: 'imageInference', parameter: 'width', integer: true, min: 128, max: 2048, multipleOf: 64 },
  { taskType: 'imageInference', parameter: 'seed', integer: true, min: 1, max: 9223372036854776000 },
  { taskType: 'imageInference', parameter: 'numberResults', integer: true, min: 1, max: 20 },
  { taskType: 'imageInference', parameter: 'steps', integer: true, min: 1, max: 100 },
  { taskType: 'imageInference', parameter: 'CFGScale', integer: false, min: 0, max: 50 },
  { taskType: 'imageInference', parameter: 'strength', integer: false, min: 0, max: 1 },
  { taskType: 'imageInference', parameter: 'outputQuality', integer: true, min: 20, max: 99 },
  { taskType: 'upscale', parameter: 'upscaleFactor', integer: true, min: 2, max: 4 },
  { taskType: 'modelSearch', parameter: 'limit', integer: true, min: 1, max: 100 },
  { taskType: 'modelSearch', parameter: 'offset', integer: true, min: 0 },
];
/** Spellings JSON.parse accepts (with unusual values) and spellings it refuses. */
const PARSEABLE_NUMBERS = [
  '1e999',
  '-1e999',
  '-0',
  '-0.0',
  '1e-999',
  '1E+2',
  '99999999999999999999999',
  '2.0',
  '64.000',
  '128.000',
];
const NON_JSON_NUMBERS = [
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  'infinity',
  '+1',
  '.5',
  '1.',
  '0x10',
  '01',
  '1_000',
  '- 1',
  '1e',
  '--1',
  '1e+',
];

const upper = (s: string) => s[0]!.toUpperCase() + s.slice(1);

function envelopeError(status: number, code: string): Outcome {
  return { kind: 'error', status, code, fields: { taskUUID: undefined, taskType: undefined } };
}

/** An echoed value as the server bounds it: up to 256 characters, a longer one cut to 255 and '…'. */
const bounded = (v: string) => (v.length <= 256 ? v : `${v.slice(0, 255)}…`);

/** The error a task answers: it echoes its taskType and taskUUID when those are strings (bounded). */
function taskError(task: Task, code: string, fields: Record<string, unknown> = {}): Outcome {
  const status = code === 'taskNotFound' ? 404 : code === 'invalidApiKey' || code === 'missingApiKey' ? 401 : 400;
  const echo = (k: string) => (typeof task[k] === 'string' ? bounded(task[k]) : undefined);
  return { kind: 'error', status, code, fields: { taskType: echo('taskType'), taskUUID: echo('taskUUID'), ...fields } };
}

function data(task: Task): Outcome {
  return { kind: 'data', taskType: String(task['taskType']), taskUUID: String(task['taskUUID']) };
}

const body = (...tasks: Task[]) => JSON.stringify(tasks);

/** `[task]` with `"<raw key>":<raw value>` members spliced in as text (for duplicate keys, raw numbers, escapes). */
function withRaw(task: Task, members: string[], drop: string[] = []): string {
  const rest = Object.fromEntries(Object.entries(task).filter(([k]) => !drop.includes(k)));
  const json = JSON.stringify(rest);
  return `[${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${members.join(',')}}]`;
}

function assertNotJson(text: string, name: string): string {
  try {
    JSON.parse(text);
  } catch {
    return text;
  }
  throw new Error(`corpus defect: "${name}" is valid JSON`);
}

export function hostileCorpus(o: CorpusOptions): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (
    category: Category,
    name: string,
    b: string | Buffer,
    expect: Outcome,
    extra: Partial<HostileCase> = {},
  ) => cases.push({ category, name, body: b, expect, ...extra });
  const task = (t: TaskTypeName) => validTask(t, o.uuid);
  const roots: TaskTypeName[] = ['imageInference', 'imageUpload', 'upscale', 'modelSearch'];

  // Truncated JSON: valid bodies cut at 15 byte offsets each, and inside each multi-byte character.
  for (const t of roots) {
    const bytes = Buffer.from(body(task(t)));
    for (let k = 0; k < 15; k++) {
      const at = Math.floor((k * (bytes.length - 1)) / 14);
      add(
        'truncated JSON',
        `${t} cut at byte ${at} of ${bytes.length}`,
        bytes.subarray(0, at),
        envelopeError(400, 'invalidJSON'),
      );
    }
  }
  const prompt = Buffer.from(body(task('imageInference')));
  for (const ch of ['é', '☕', '🐱']) {
    const start = prompt.indexOf(ch);
    for (let cut = 1; cut < Buffer.byteLength(ch); cut++) {
      add(
        'truncated JSON',
        `imageInference cut inside '${ch}' (${cut} of ${Buffer.byteLength(ch)} bytes)`,
        prompt.subarray(0, start + cut),
        envelopeError(400, 'invalidJSON'),
      );
    }
  }

  // Malformed JSON: one mutation of a valid body each.
  const mutations: [string, (s: string) => string][] = [
    ['a colon replaced by =', (s) => s.replace(':', '=')],
    ['the first comma dropped', (s) => s.replace(',', '')],
    ['a comma doubled', (s) => s.replace(',', ',,')],
    ['the closing brace dropped', (s) => s.replace(/}\]$/, ']')],
    ['a closing brace too many', (s) => s.replace(/}\]$/, '}}]')],
    ['single quotes', (s) => s.replace(/"/g, "'")],
    ['unquoted keys', (s) => s.replace(/"(\w+)":/g, '$1:')],
    ['a trailing comma in the object', (s) => s.replace(/}\]$/, ',}]')],
    ['a trailing comma in the array', (s) => s.replace(/]$/, ',]')],
    ['a comment inside', (s) => s.replace('{', '{/* c */')],
    ['a raw tab inside a string', (s) => s.replace('":"', '":"\t')],
    ['a raw control character inside a string', (s) => s.replace('":"', '":"\u0001')],
    ['an unknown escape', (s) => s.replace('":"', '":"\\x41')],
    ['a short unicode escape', (s) => s.replace('":"', '":"\\u12')],
    ['text after the array', (s) => `${s} x`],
    ['a second array after it', (s) => `${s}${s}`],
    ['wrapped in parentheses', (s) => `(${s})`],
    ['a key without a value', (s) => s.replace(/}\]$/, ',"k":}]')],
    ['a NUL byte between tokens', (s) => s.replace(',', '\u0000,')],
  ];
  for (const t of roots) {
    const valid = body(task(t));
    for (const [name, mutate] of mutations) {
      add('malformed JSON', `${t} with ${name}`, assertNotJson(mutate(valid), name), envelopeError(400, 'invalidJSON'));
    }
  }

  // Bodies and messages that are JSON but not an array of tasks.
  for (const text of [
    '42',
    '-0',
    '1e999',
    'null',
    'true',
    'false',
    '"[]"',
    '{}',
    JSON.stringify(task('imageInference')),
    '{"0":{"taskType":"ping"}}',
  ]) {
    add('not an array', `the JSON value ${text.slice(0, 40)}`, text, envelopeError(400, 'invalidPayload'));
  }
  for (const text of ['[]', '[null]', '[1]', '["imageInference"]', '[[]]', '[[{"taskType":"ping"}]]']) {
    add('not an array', `the array ${text}`, text, envelopeError(400, 'invalidPayload'));
  }

  // Huge values.
  {
    const t = task('imageInference');
    add(
      'huge values',
      'a 5 MB positivePrompt',
      body({ ...t, positivePrompt: 'x'.repeat(5_000_000) }),
      taskError(t, 'invalidPositivePrompt', { parameter: 'positivePrompt', max: 3000 }),
    );
    const n = task('imageInference');
    add(
      'huge values',
      'a 2 MB negativePrompt of 4-byte characters',
      body({ ...n, negativePrompt: '🐱'.repeat(500_000) }),
      taskError(n, 'invalidNegativePrompt', { parameter: 'negativePrompt' }),
    );
    const k = task('imageInference');
    add('huge values', 'a parameter named by a 1 MB key', body({ ...k, ['k'.repeat(1_000_000)]: 1 }), data(k));
    const e = task('imageInference');
    add(
      'huge values',
      'a 600 KB key written as \\u escapes',
      withRaw(e, [`"${'\\u0041'.repeat(100_000)}":1`]),
      data(e),
    );
    const m = task('imageInference');
    add('huge values', 'a 2 MB model', body({ ...m, model: `runware:${'1'.repeat(2_000_000)}@1` }), data(m));
    const ty = task('imageInference');
    add(
      'huge values',
      'a 1 MB taskType',
      body({ ...ty, taskType: 'i'.repeat(1_000_000) }),
      taskError({ ...ty, taskType: 'i'.repeat(1_000_000) }, 'unsupportedTaskType', { parameter: 'taskType' }),
    );
    const uuidless = task('imageInference');
    const longUuid = `${String(uuidless['taskUUID'])}${'0'.repeat(1_000_000)}`;
    add(
      'huge values',
      'a 1 MB taskUUID',
      body({ ...uuidless, taskUUID: longUuid }),
      taskError({ ...uuidless, taskUUID: longUuid }, 'invalidTaskUUID', { parameter: 'taskUUID' }),
    );
    const many = task('imageInference');
    add(
      'huge values',
      '100 000 extra keys',
      body({ ...many, ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`p${i}`, i])) }),
      data(many),
    );
    const tags = task('modelSearch');
    add(
      'huge values',
      '50 000 tags',
      body({ ...tags, tags: Array.from({ length: 50_000 }, (_, i) => `t${i}`) }),
      taskError(tags, 'invalidTagsCount', { parameter: 'tags', max: 100 }),
    );
    add(
      'huge values',
      '100 000 tasks',
      `[${Array.from({ length: 100_000 }, () => '{"taskType":"ping"}').join(',')}]`,
      envelopeError(400, 'tooManyTasks'),
    );
    const big = task('imageUpload');
    add(
      'huge values',
      `a body one MiB over RUNTRAIL_MAX_BODY_BYTES`,
      body({ ...big, image: 'A'.repeat(o.maxBodyBytes + 1_048_576) }),
      envelopeError(413, 'payloadTooLarge'),
    );
  }

  // Deep nesting: the reader refuses depth past RUNTRAIL_MAX_JSON_DEPTH (32) before parsing.
  const deep = 10_000;
  add('deep nesting', `${deep} levels of [`, '['.repeat(deep) + ']'.repeat(deep), envelopeError(400, 'payloadTooDeep'));
  add(
    'deep nesting',
    `${deep} levels of {"a":`,
    '[' + '{"a":'.repeat(deep) + '1' + '}'.repeat(deep) + ']',
    envelopeError(400, 'payloadTooDeep'),
  );
  add('deep nesting', `${deep} unclosed [`, '['.repeat(deep), envelopeError(400, 'payloadTooDeep'));
  add('deep nesting', `${deep} unclosed {"a":`, '[' + '{"a":'.repeat(deep), envelopeError(400, 'payloadTooDeep'));
  add(
    'deep nesting',
    `${deep} alternating [{"a":`,
    '[{"a":'.repeat(deep) + '1' + '}]'.repeat(deep),
    envelopeError(400, 'payloadTooDeep'),
  );
  add('deep nesting', `${deep} closing ] only`, ']'.repeat(deep), envelopeError(400, 'invalidJSON'));
  {
    const t = task('imageInference');
    add(
      'deep nesting',
      `lora nested ${deep} levels`,
      withRaw(t, [`"lora":${'['.repeat(deep)}${']'.repeat(deep)}`]),
      envelopeError(400, 'payloadTooDeep'),
    );
    const s = task('imageInference');
    add(
      'deep nesting',
      `${deep} [ inside a string`,
      body({ ...s, positivePrompt: '['.repeat(deep) }),
      taskError(s, 'invalidPositivePrompt', { parameter: 'positivePrompt' }),
    );
    // The body array, the task object and 30 levels inside it: exactly the limit.
    const at = task('imageInference');
    add(
      'deep nesting',
      'exactly 32 levels (the limit)',
      withRaw(at, [`"x":${'['.repeat(30)}${']'.repeat(30)}`]),
      data(at),
    );
    const over = task('imageInference');
    add(
      'deep nesting',
      '33 levels',
      withRaw(over, [`"x":${'['.repeat(31)}${']'.repeat(31)}`]),
      envelopeError(400, 'payloadTooDeep'),
    );
  }

  // Wrong types for every parameter of every task type.
  for (const [taskType, parameters] of Object.entries(PARAMETERS) as [TaskTypeName, Record<string, Kind>][]) {
    for (const [parameter, kind] of Object.entries(parameters)) {
      for (const swap of SWAPS.filter((s) => wrongFor(kind, s.kind))) {
        const t = { ...task(taskType), [parameter]: swap.value };
        const code = parameter === 'taskType' ? 'invalidTaskType' : `invalid${upper(parameter)}`;
        add(
          'wrong types',
          `${taskType} ${parameter} = ${JSON.stringify(swap.value)}`,
          body(t),
          taskError(t, code, { parameter }),
        );
      }
    }
  }

  // Number spellings: those JSON allows must be judged by value, the others are not JSON.
  for (const p of NUMERIC) {
    for (const spelling of PARSEABLE_NUMBERS) {
      const t = task(p.taskType);
      const v = JSON.parse(spelling) as number;
      const ok =
        Number.isFinite(v) &&
        (!p.integer || Number.isInteger(v)) &&
        v >= p.min &&
        (p.max === undefined || v <= p.max) &&
        (p.multipleOf === undefined || v % p.multipleOf === 0);
      add(
        'number spellings',
        `${p.taskType} ${p.parameter}: ${spelling}`,
        withRaw(t, [`"${p.parameter}":${spelling}`], [p.parameter]),
        ok ? data(t) : taskError(t, `invalid${upper(p.parameter)}`, { parameter: p.parameter }),
      );
    }
  }
  for (const p of NUMERIC.filter((n) => ['width', 'CFGScale', 'limit'].includes(n.parameter))) {
    for (const spelling of NON_JSON_NUMBERS) {
      const text = withRaw(task(p.taskType), [`"${p.parameter}":${spelling}`], [p.parameter]);
      add(
        'number spellings',
        `${p.taskType} ${p.parameter}: ${spelling}`,
        assertNotJson(text, spelling),
        envelopeError(400, 'invalidJSON'),
      );
    }
  }

  // Duplicate keys: JSON.parse keeps the last; the recorded text keeps both.
  {
    const a = task('imageInference');
    const asDetails = { taskType: 'getTaskDetails', taskUUID: a['taskUUID'] };
    add(
      'duplicate keys',
      'two taskType, getTaskDetails last',
      withRaw(a, ['"taskType":"getTaskDetails"']),
      taskError(asDetails, 'taskNotFound', { parameter: 'taskUUID' }),
    );
    const b = task('imageInference');
    add(
      'duplicate keys',
      'two taskType, imageInference last',
      `[{"taskType":"getTaskDetails",${JSON.stringify(b).slice(1)}]`,
      data(b),
    );
    const c = task('imageInference');
    add(
      'duplicate keys',
      'two taskUUID, an invalid one last',
      withRaw(c, ['"taskUUID":"not-a-uuid"']),
      taskError({ ...c, taskUUID: 'not-a-uuid' }, 'invalidTaskUUID', { parameter: 'taskUUID' }),
    );
    const d = task('imageInference');
    const second = o.uuid();
    add(
      'duplicate keys',
      'two valid taskUUID',
      withRaw(d, [`"taskUUID":"${second}"`]),
      data({ ...d, taskUUID: second }),
    );
    const e = task('imageInference');
    add('duplicate keys', 'two width, the valid one last', `[{"width":7,${JSON.stringify(e).slice(1)}]`, data(e));
    const f = task('imageInference');
    add(
      'duplicate keys',
      'two width, the invalid one last',
      withRaw(f, ['"width":7']),
      taskError(f, 'invalidWidth', { parameter: 'width' }),
    );
    const g = task('imageInference');
    add(
      'duplicate keys',
      '1000 width keys',
      withRaw(g, [...Array.from({ length: 999 }, (_, i) => `"width":${i}`), '"width":128']),
      data(g),
    );
    const h = task('imageInference');
    add('duplicate keys', 'two __proto__ keys', withRaw(h, ['"__proto__":{"width":1}', '"__proto__":[]']), data(h));
    const i = task('modelSearch');
    add(
      'duplicate keys',
      'two limit, 0 last',
      withRaw(i, ['"limit":0']),
      taskError(i, 'invalidLimit', { parameter: 'limit' }),
    );
    const auth = (apiKeys: string[]) =>
      `{"taskType":"authentication",${apiKeys.map((k) => `"apiKey":${JSON.stringify(k)}`).join(',')}}`;
    const j = task('imageInference');
    add(
      'duplicate keys',
      'two apiKey in the authentication object, the right one last',
      `[${auth(['rt_wrong', o.key])},${JSON.stringify(j)}]`,
      data(j),
      { noAuthHeader: true },
    );
    const k = task('imageInference');
    add(
      'duplicate keys',
      'two apiKey in the authentication object, a wrong one last',
      `[${auth([o.key, 'rt_wrong'])},${JSON.stringify(k)}]`,
      taskError({ taskType: 'authentication' }, 'invalidApiKey', { parameter: 'apiKey' }),
      { noAuthHeader: true },
    );
    const l = task('imageInference');
    add(
      'duplicate keys',
      'an authentication object whose taskType is overridden',
      `[{"taskType":"authentication","apiKey":${JSON.stringify(o.key)},"taskType":"imageInference"},${JSON.stringify(l)}]`,
      taskError({ taskType: 'authentication' }, 'missingApiKey', { parameter: 'apiKey' }),
      { noAuthHeader: true },
    );
  }

  // Invalid UTF-8 (each body is otherwise a valid task): invalidJSON.
  const badBytes: [string, number[]][] = [
    ['a lone continuation byte 0x80', [0x80]],
    ['0xff', [0xff]],
    ['0xfe', [0xfe]],
    ['an overlong "/" (c0 af)', [0xc0, 0xaf]],
    ['an overlong c1 bf', [0xc1, 0xbf]],
    ['an overlong 3-byte e0 80 af', [0xe0, 0x80, 0xaf]],
    ['an encoded surrogate ed a0 80', [0xed, 0xa0, 0x80]],
    ['an encoded low surrogate ed bf bf', [0xed, 0xbf, 0xbf]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a 0xf5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
    ['a 4-byte sequence cut short', [0xf0, 0x9f, 0x90]],
    ['a 3-byte sequence cut short', [0xe2, 0x82]],
    ['a lone lead byte 0xc3', [0xc3]],
    ['Latin-1 é (0xe9)', [0xe9]],
  ];
  for (const [name, bytes] of badBytes) {
    const text = body(task('imageInference'));
    const at = text.indexOf('a café');
    add(
      'invalid UTF-8',
      `${name} in the prompt`,
      Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]),
      envelopeError(400, 'invalidJSON'),
    );
  }
  for (const [where, splice] of [
    ['a key', (t: string) => t.replace('"seed"', '"se\u0000ed"')],
    ['the taskType', (t: string) => t.replace('"imageInference"', '"image\u0000Inference"')],
    ['whitespace between tokens', (t: string) => t.replace(',', ' \u0000 ,')],
    ['the last byte', (t: string) => `${t}\u0000`],
  ] as const) {
    const text = splice(body(task('imageInference')));
    const cut = text.indexOf('\u0000');
    add(
      'invalid UTF-8',
      `0xff in ${where}`,
      Buffer.concat([Buffer.from(text.slice(0, cut)), Buffer.from([0xff]), Buffer.from(text.slice(cut + 1))]),
      envelopeError(400, 'invalidJSON'),
    );
  }
  const asText = body(task('modelSearch'));
  add(
    'invalid UTF-8',
    'UTF-16LE with a byte-order mark',
    Buffer.from(`\ufeff${asText}`, 'utf16le'),
    envelopeError(400, 'invalidJSON'),
  );
  add(
    'invalid UTF-8',
    'UTF-16BE with a byte-order mark',
    Buffer.from(`\ufeff${asText}`, 'utf16le').swap16(),
    envelopeError(400, 'invalidJSON'),
  );
  add(
    'invalid UTF-8',
    'a UTF-8 BOM followed by 0xff',
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xff]), Buffer.from(asText)]),
    envelopeError(400, 'invalidJSON'),
  );

  // Lone surrogates written as JSON escapes (valid UTF-8, valid JSON, ill-formed UTF-16).
  {
    for (const escape of ['\\ud800', '\\udc00', '\\udbff\\udbff', '\\udfff\\ud800']) {
      const t = task('imageInference');
      add(
        'lone surrogates',
        `${escape} in the prompt`,
        withRaw(t, [`"positivePrompt":"x ${escape} y"`], ['positivePrompt']),
        data(t),
      );
    }
    const type = task('imageInference');
    add(
      'lone surrogates',
      '\\ud800 as the taskType',
      withRaw(type, ['"taskType":"\\ud800"'], ['taskType']),
      taskError({ ...type, taskType: '\ud800' }, 'unsupportedTaskType', { parameter: 'taskType' }),
    );
    const id = task('imageInference');
    add(
      'lone surrogates',
      '\\ud800 as the taskUUID',
      withRaw(id, ['"taskUUID":"\\ud800"'], ['taskUUID']),
      taskError({ ...id, taskUUID: '\ud800' }, 'invalidTaskUUID', { parameter: 'taskUUID' }),
    );
    const tail = task('getTaskDetails');
    const tailUuid = `${String(tail['taskUUID'])}\ud800`;
    add(
      'lone surrogates',
      'a taskUUID ending in \\ud800 (getTaskDetails)',
      withRaw(tail, [`"taskUUID":"${String(tail['taskUUID'])}\\ud800"`], ['taskUUID']),
      taskError({ ...tail, taskUUID: tailUuid }, 'invalidTaskUUID', { parameter: 'taskUUID' }),
    );
    const model = task('imageInference');
    add(
      'lone surrogates',
      '\\ud800 inside the model AIR',
      withRaw(model, ['"model":"runware:\\ud800@1"'], ['model']),
      taskError(model, 'invalidModel', { parameter: 'model' }),
    );
    const format = task('imageInference');
    add(
      'lone surrogates',
      '\\udc00 as the outputFormat',
      withRaw(format, ['"outputFormat":"\\udc00"'], ['outputFormat']),
      taskError(format, 'invalidOutputFormat', { parameter: 'outputFormat' }),
    );
    const key = task('imageInference');
    add('lone surrogates', '\\ud800 as a key', withRaw(key, ['"\\ud800":1']), data(key));
    const search = task('modelSearch');
    add(
      'lone surrogates',
      '\\udfff as the search text',
      withRaw(search, ['"search":"\\udfff"'], ['search']),
      data(search),
    );
    const auth = task('imageInference');
    add(
      'lone surrogates',
      '\\ud800 as the apiKey of the authentication object',
      `[{"taskType":"authentication","apiKey":"\\ud800"},${JSON.stringify(auth)}]`,
      taskError({ taskType: 'authentication' }, 'invalidApiKey', { parameter: 'apiKey' }),
      { noAuthHeader: true },
    );
  }

  // Prototype-pollution keys, at the top of the body and inside the task object.
  {
    add(
      'prototype keys',
      'a body object of __proto__',
      `{"__proto__":${body(task('imageInference'))}}`,
      envelopeError(400, 'invalidPayload'),
    );
    add(
      'prototype keys',
      'a body object of constructor.prototype',
      `{"constructor":{"prototype":${body(task('imageInference'))}}}`,
      envelopeError(400, 'invalidPayload'),
    );
    const hidden = task('imageInference');
    add(
      'prototype keys',
      'the whole task inside __proto__',
      `[{"__proto__":${JSON.stringify(hidden)}}]`,
      taskError({}, 'missingTaskType', { parameter: 'taskType' }),
    );
    for (const [name, member] of <[string, string][]>[
      ['__proto__', '"__proto__":{"width":64}'],
      ['constructor.prototype', '"constructor":{"prototype":{"width":64}}'],
      ['prototype', '"prototype":{"width":64}'],
    ]) {
      const t = task('imageInference');
      add(
        'prototype keys',
        `width only in ${name}`,
        withRaw(t, [member], ['width']),
        taskError(t, 'missingWidth', { parameter: 'width' }),
      );
    }
    for (const member of [
      '"__proto__":{"polluted":"yes","isAdmin":true}',
      '"constructor":{"prototype":{"polluted":"yes"}}',
      '"__proto__":null',
      '"__proto__":[]',
      '"prototype":1',
      '"__proto__":{"deliveryMethod":"async"}',
    ]) {
      const t = task('imageInference');
      add('prototype keys', `a valid task with ${member}`, withRaw(t, [member]), data(t));
    }
    const lora = task('imageInference');
    add(
      'prototype keys',
      'a LoRA whose model is only in __proto__',
      withRaw(lora, ['"lora":[{"__proto__":{"model":"civitai:1@1"}}]']),
      taskError(lora, 'missingModel', { parameter: 'lora.0.model' }),
    );
    const up = task('upscale');
    add(
      'prototype keys',
      'upscale inputs.image only in __proto__',
      withRaw(up, [`"inputs":{"__proto__":{"image":"${PNG_1X1}"}}`], ['inputImage']),
      taskError(up, 'missingInputImage', { parameter: 'inputImage' }),
    );
    const search = task('modelSearch');
    add(
      'prototype keys',
      'modelSearch with limit 0 only in __proto__',
      withRaw(search, ['"__proto__":{"limit":0}']),
      data(search),
    );
    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']) {
      const t = { ...task('imageInference'), taskType: name };
      add(
        'prototype keys',
        `taskType "${name}"`,
        body(t),
        taskError(t, 'unsupportedTaskType', { parameter: 'taskType' }),
      );
    }
    for (const name of ['__proto__', 'constructor']) {
      const t = { ...task('getResponse'), taskUUID: name };
      add(
        'prototype keys',
        `getResponse of taskUUID "${name}"`,
        body(t),
        taskError(t, 'invalidTaskUUID', { parameter: 'taskUUID' }),
      );
    }
    const viaProto = task('imageInference');
    add(
      'prototype keys',
      'an authentication object whose apiKey is in __proto__',
      `[{"taskType":"authentication","__proto__":{"apiKey":${JSON.stringify(o.key)}}},${JSON.stringify(viaProto)}]`,
      taskError({ taskType: 'authentication' }, 'invalidApiKey', { parameter: 'apiKey' }),
      { noAuthHeader: true },
    );
    const hiddenAuth = task('imageInference');
    add(
      'prototype keys',
      'an authentication object inside __proto__',
      `[{"__proto__":{"taskType":"authentication","apiKey":${JSON.stringify(o.key)}}},${JSON.stringify(hiddenAuth)}]`,
      taskError({ taskType: 'authentication' }, 'missingApiKey', { parameter: 'apiKey' }),
      { noAuthHeader: true },
    );
  }

  // Content types: the body is read as raw bytes whatever they say (docs/protocol.md).
  for (const type of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/xml',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'garbage',
    '*/*',
    'application/',
    'application/json, text/plain',
    'application/octet-stream',
    'image/png',
    'application/json;;;',
    'text/html; charset="',
    `${'a'.repeat(4000)}/json`,
    'application/json; charset=utf-8; boundary=--',
  ]) {
    const t = task('imageInference');
    const bad = { ...t, width: 7 };
    add(
      'content types',
      `content-type: ${type.slice(0, 40)}`,
      body(bad),
      taskError(bad, 'invalidWidth', { parameter: 'width' }),
      { headers: { 'content-type': type } },
    );
  }
  {
    const t = task('imageInference');
    add('content types', 'a valid task as text/plain', body(t), data(t), { headers: { 'content-type': 'text/plain' } });
    const z = task('imageInference');
    add(
      'content types',
      'a gzipped body with content-encoding: gzip (not decoded)',
      gzipSync(body(z)),
      envelopeError(400, 'invalidJSON'),
      { headers: { 'content-encoding': 'gzip' } },
    );
    const p = task('imageInference');
    add('content types', 'a plain body with content-encoding: br', body(p), data(p), {
      headers: { 'content-encoding': 'br' },
    });
  }

  // Empty and blank bodies.
  for (const [name, b] of <[string, string][]>[
    ['an empty body', ''],
    ['one space', ' '],
    ['CR LF TAB', '\r\n\t'],
    ['a NUL byte', '\u0000'],
    ['a byte-order mark only', '\ufeff'],
    ['a form feed', '\f'],
    ['non-breaking spaces', '\u00a0\u00a0'],
    ['a lone comma', ','],
  ]) {
    add('empty bodies', name, b, envelopeError(400, 'invalidJSON'));
  }
  add('empty bodies', 'an empty body sent as text/plain', '', envelopeError(400, 'invalidJSON'), {
    headers: { 'content-type': 'text/plain' },
  });
  // The body is read before a missing key is reported: it might hold the authentication object.
  add('empty bodies', 'an empty body without a key', '', envelopeError(400, 'invalidJSON'), { noAuthHeader: true });

  return cases;
}

/** Whether `bytes` is well-formed UTF-8 (a WebSocket text frame that is not gets close code 1007). */
export function isUtf8(bytes: string | Buffer): boolean {
  if (typeof bytes === 'string') return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
