// Property test of byte-exact recall: generated task objects, written as
// raw JSON text full of things JSON.parse + JSON.stringify would change, go to the server's HTTP
// edge as raw bodies; getTaskDetails must give back each object's source text byte for byte and
// the response envelope exactly as first sent. The server runs in this process and the requests go
// through inject() (test/helpers/in-process.ts): bytes in and out are the edge's own, and a socket
// would add only time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import type { Reply } from './helpers/server.js';
import { startInProcess } from './helpers/in-process.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const SEED = 20240611;
const MAX_DEPTH = 32; // the server's default RUNTRAIL_MAX_JSON_DEPTH
const TARGET_TASKS = 1000;

// ---- tricky JSON text ---------------------------------------------------------------------

const ws = fc.constantFrom('', '', ' ', '\t', '\r\n', '\n', ' \t ', '\r\n\t\t', '\n  ');

const numberText = fc.oneof(
  fc.constantFrom(
    '1.0',
    '1e3',
    '1E+3',
    '1e-7',
    '-0',
    '-0.0',
    '0.10',
    '2.50e+2',
    '12345678901234567890',
    '-98765432109876543210',
    '100000000000000000000000000000.000',
    '3.14159265358979323846264338327950288',
    '9007199254740993',
    '1.7976931348623157e309',
    '5e-324',
    '0',
  ),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? '-0' : String(d))),
);

/** JSON string bodies, each piece valid on its own so any concatenation is valid. */
const stringPiece = fc.constantFrom(
  'é',
  '\\u00e9',
  '\\u00E9',
  'e\\u0301',
  '\\"',
  '\\\\',
  '\\\\\\"',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '\\n',
  '\\t',
  '\\r',
  '\\/',
  '/',
  '😀',
  '\\ud83d\\ude00',
  '\\uD83D\\uDE00',
  '日本',
  '\\u0000',
  '\\u2028',
  '\u2028',
  'abc',
  ' ',
  '\\b\\f',
  '\\ufeff',
  '\u007f',
);
const stringText = fc.array(stringPiece, { maxLength: 8 }).map((parts) => `"${parts.join('')}"`);

/** Keys for extra (unknown) fields: integer-like ones out of order, escapes next to raw text. */
const extraKey = fc.oneof(
  fc.constantFrom(
    '"10"',
    '"2"',
    '"1"',
    '"0"',
    '"-1"',
    '"01"',
    '"4294967295"',
    '"4294967294"',
    '"é"',
    '"\\u00e9"',
    '"__proto__"',
    '"constructor"',
    '""',
    '"x y"',
    '"\\"q\\""',
  ),
  fc.array(stringPiece, { minLength: 1, maxLength: 4 }).map((p) => `"x${p.join('')}"`),
);

function objectText(members: readonly { key: string; value: string }[], w: readonly string[]): string {
  if (members.length === 0) return `{${w[0] ?? ''}}`;
  const body = members.map(
    (m, i) =>
      `${w[(i * 4) % w.length]}${m.key}${w[(i * 4 + 1) % w.length]}:${w[(i * 4 + 2) % w.length]}${m.value}${w[(i * 4 + 3) % w.length]}`,
  );
  return `{${body.join(',')}}`;
}

function arrayText(items: readonly string[], w: readonly string[]): string {
  if (items.length === 0) return `[${w[0] ?? ''}]`;
  return `[${items.map((v, i) => `${w[(i * 2) % w.length]}${v}${w[(i * 2 + 1) % w.length]}`).join(',')}]`;
}

/** A JSON value as text whose nesting (arrays and objects) is at most `levels` deep. */
function valueText(levels: number): fc.Arbitrary<string> {
  const scalar = fc.oneof(numberText, stringText, fc.constantFrom('true', 'false', 'null'));
  if (levels === 0) return scalar;
  const inner = valueText(levels - 1);
  const wsList = fc.array(ws, { minLength: 1, maxLength: 8 });
  return fc.oneof(
    { weight: 3, arbitrary: scalar },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(fc.record({ key: extraKey, value: inner }), { maxLength: 4 }), wsList)
        .map(([m, w]) => objectText(m, w)),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.array(inner, { maxLength: 4 }), wsList).map(([items, w]) => arrayText(items, w)),
    },
  );
}

/** A value nested exactly `levels` deep, alternating arrays and objects. */
function deepValue(levels: number, leaf: string): string {
  let text = leaf;
  for (let i = 0; i < levels; i++) text = i % 2 === 0 ? `[${text}]` : `{"d${i}":${text}}`;
  return text;
}

// ---- task objects -------------------------------------------------------------------------

interface GeneratedTask {
  uuid: string;
  source: string;
  valid: boolean;
}

const uuidCase = fc.constantFrom<'lower' | 'upper' | 'mixed'>('lower', 'lower', 'upper', 'mixed');
const tricky = {
  width: fc.constantFrom('128', '128.0', '1.28e2', '1280e-1', '128.000'),
  height: fc.constantFrom('128', '128.0', '0.128E3', '128'),
  seed: fc.constantFrom('1e3', '1000', '12345', '42.0', '4294967296', '9007199254740991'),
  prompt: fc.constantFrom(
    '"a caf\\u00e9 at night"',
    '"a café at night"',
    '"caf\\u00e9 café \\"quoted\\" \\\\ slash"',
    '"日本の灯台 😀 \\ud83d\\ude00"',
    '"tab\\tand\\nnewline"',
    '"a lighthouse at dusk"',
  ),
  model: fc.constantFrom('"runware:101@1"', '"runtrail:1@1"', '"civitai:4384@128713"', '"runware\\u003a101@1"'),
  outputType: fc.constantFrom('"URL"', '"base64Data"', '"dataURI"'),
  outputFormat: fc.constantFrom('"JPG"', '"png"', '"WEBP"', '"jpg"', '"PNG"'),
  bool: fc.constantFrom('true', 'false'),
};

/** Changes that make a task fail validation while keeping a well-formed taskUUID (so it is recorded). */
const breakages: readonly ((m: Map<string, string>) => void)[] = [
  (m) => m.set('"width"', '100'),
  (m) => m.set('"width"', '7'),
  (m) => m.set('"height"', '4096'),
  (m) => m.set('"width"', '"64"'),
  (m) => m.set('"steps"', '0'),
  (m) => m.set('"CFGScale"', '51'),
  (m) => m.set('"numberResults"', '21'),
  (m) => m.set('"outputQuality"', '10'),
  (m) => m.set('"seed"', '0'),
  (m) => m.set('"seed"', '-0'),
  (m) => m.set('"outputType"', '"PNG"'),
  (m) => m.set('"includeCost"', '"yes"'),
  (m) => m.set('"model"', '"not a model"'),
  (m) => m.delete('"positivePrompt"'),
  (m) => m.delete('"model"'),
  (m) => m.delete('"taskType"'),
  (m) => m.set('"taskType"', '"imageInferance"'),
  (m) => m.set('"taskType"', '7'),
  (m) => m.set('"positivePrompt"', '"\\u00e9"'),
];

function uuidIn(style: 'lower' | 'upper' | 'mixed'): string {
  const u = randomUUID();
  if (style === 'upper') return u.toUpperCase();
  if (style === 'mixed')
    return u
      .split('')
      .map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c))
      .join('');
  return u;
}

interface TaskSpec {
  uuidStyle: 'lower' | 'upper' | 'mixed';
  valid: boolean;
  build: (uuid: string) => string;
}

const UUID_SLOT = '\u0000uuid\u0000';

const taskArb: fc.Arbitrary<TaskSpec> = fc
  .record({
    uuidStyle: uuidCase,
    width: tricky.width,
    height: tricky.height,
    prompt: tricky.prompt,
    model: tricky.model,
    seed: fc.option(tricky.seed, { nil: undefined }),
    outputType: fc.option(tricky.outputType, { nil: undefined }),
    outputFormat: fc.option(tricky.outputFormat, { nil: undefined }),
    includeCost: fc.option(tricky.bool, { nil: undefined }),
    extras: fc.array(fc.record({ key: extraKey, value: valueText(5) }), { minLength: 1, maxLength: 6 }),
    deep: fc.option(fc.integer({ min: 1, max: MAX_DEPTH - 2 }), { nil: undefined }),
    duplicateWidth: fc.boolean(),
    // About one task in four fails validation.
    breakage: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: breakages.length - 1 }) },
    ),
    order: fc.array(fc.nat(), { minLength: 24, maxLength: 24 }),
    w: fc.array(ws, { minLength: 4, maxLength: 16 }),
  })
  .map((r) => {
    const known = new Map<string, string>([
      ['"taskType"', '"imageInference"'],
      ['"taskUUID"', UUID_SLOT],
      ['"model"', r.model],
      ['"positivePrompt"', r.prompt],
      ['"width"', r.width],
      ['"height"', r.height],
    ]);
    if (r.seed !== undefined) known.set('"seed"', r.seed);
    if (r.outputType !== undefined) known.set('"outputType"', r.outputType);
    if (r.outputFormat !== undefined) known.set('"outputFormat"', r.outputFormat);
    if (r.includeCost !== undefined) known.set('"includeCost"', r.includeCost);
    if (r.breakage !== undefined) breakages[r.breakage]!(known);
    const members: { key: string; value: string }[] = [...known].map(([key, value]) => ({ key, value }));
    for (const e of r.extras) members.push(e);
    // The array (depth 1) + the task object (2) + `deep` levels stays within MAX_DEPTH.
    if (r.deep !== undefined) members.push({ key: '"deep"', value: deepValue(r.deep, '"\\u00e9é"') });
    // Members in a generated order (the taskUUID too), so integer-like keys come out of order.
    const keyed = members.map((m, i) => ({ m, k: r.order[i % r.order.length]! * 31 + i }));
    keyed.sort((a, b) => a.k - b.k);
    const shuffled = keyed.map((x) => x.m);
    // A duplicate key: an out-of-range width first, the task's own width last (JSON.parse keeps the last).
    if (r.duplicateWidth && known.has('"width"')) {
      const at = shuffled.findIndex((m) => m.key === '"width"');
      shuffled.splice(at, 0, { key: '"width"', value: '100' });
    }
    const template = objectText(shuffled, r.w);
    return {
      uuidStyle: r.uuidStyle,
      valid: r.breakage === undefined,
      build: (uuid: string) => template.replace(UUID_SLOT, `"${uuid}"`),
    };
  });

function buildTask(spec: TaskSpec): GeneratedTask {
  const uuid = uuidIn(spec.uuidStyle);
  return { uuid, source: spec.build(uuid), valid: spec.valid };
}

// ---- checks -------------------------------------------------------------------------------

interface ParsedReply {
  data?: Record<string, unknown>[];
  errors?: Record<string, unknown>[];
}

/** The texts of this task's items in a reply, each checked to occur verbatim in the reply bytes. */
function itemsOf(reply: Reply, uuid: string): { data: string[]; errors: string[] } {
  const parsed = JSON.parse(reply.text) as ParsedReply;
  const mine = (o: Record<string, unknown>) =>
    typeof o['taskUUID'] === 'string' && o['taskUUID'].toLowerCase() === uuid.toLowerCase();
  // Items were serialized once by JSON.stringify, for which stringify(parse(t)) === t; the
  // substring check makes sure these are the very bytes of the reply.
  const data = (parsed.data ?? []).filter(mine).map((o) => JSON.stringify(o));
  const errors = (parsed.errors ?? []).filter(mine).map((o) => JSON.stringify(o));
  for (const item of [...data, ...errors])
    assert.ok(reply.text.includes(item), `item text occurs in the reply: ${item.slice(0, 200)}`);
  return { data, errors };
}

function envelopeOf(items: { data: string[]; errors: string[] }): string {
  const parts: string[] = [];
  if (items.data.length > 0 || items.errors.length === 0) parts.push(`"data":[${items.data.join(',')}]`);
  if (items.errors.length > 0) parts.push(`"errors":[${items.errors.join(',')}]`);
  return `{${parts.join(',')}}`;
}

test(`getTaskDetails returns each of ${TARGET_TASKS}+ generated task objects and its response byte for byte`, async () => {
  const server = await startInProcess();
  let sent = 0;
  let validSent = 0;
  let invalidSent = 0;
  let singleSuccessChecked = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(taskArb, { minLength: 1, maxLength: 12 }),
        fc.array(ws, { minLength: 4, maxLength: 4 }),
        async (specs, w) => {
          const tasks = specs.map(buildTask);
          const body = `${w[0]}[${w[1]}${tasks.map((t) => t.source).join(`${w[2]},${w[3]}`)}${w[1]}]${w[0]}`;
          const run = await server.post(body);
          const anyValid = tasks.some((t) => t.valid);
          assert.equal(
            run.status,
            anyValid ? 200 : 400,
            `status of ${body.slice(0, 300)}\n-> ${run.text.slice(0, 500)}`,
          );

          const expected = tasks.map((t) => {
            const items = itemsOf(run, t.uuid);
            if (t.valid) {
              assert.equal(items.errors.length, 0, `valid task succeeded: ${t.source}\n-> ${items.errors.join('\n')}`);
              assert.ok(items.data.length >= 1);
            } else {
              assert.equal(items.data.length, 0, `invalid task failed: ${t.source}`);
              assert.equal(items.errors.length, 1, `invalid task has one error: ${t.source}`);
            }
            return envelopeOf(items);
          });
          if (tasks.length === 1 && tasks[0]!.valid) {
            // A single successful task: the HTTP body is its envelope.
            assert.equal(expected[0], run.text);
            singleSuccessChecked++;
          }

          const lookup = '[' + tasks.map((t) => `{"taskType":"getTaskDetails","taskUUID":"${t.uuid}"}`).join(',') + ']';
          const details = await server.post(lookup);
          assert.equal(details.status, 200, details.text.slice(0, 500));
          tasks.forEach((t, i) => {
            const item = `{"taskType":"getTaskDetails","taskUUID":"${t.uuid}","request":[${t.source}],"response":${expected[i]}}`;
            if (!details.text.includes(item)) {
              const got = (JSON.parse(details.text) as ParsedReply).data?.find((d) => d['taskUUID'] === t.uuid);
              assert.fail(
                `getTaskDetails of ${t.uuid} differs.\nexpected item:\n${item}\ngot (re-serialized):\n${JSON.stringify(got)}`,
              );
            }
          });
          sent += tasks.length;
          for (const t of tasks) {
            if (t.valid) validSent++;
            else invalidSent++;
          }
        },
      ),
      { seed: SEED, numRuns: 180, endOnFailure: true },
    );
    assert.ok(sent >= TARGET_TASKS, `sent ${sent} task objects`);
    assert.ok(validSent >= 500 && invalidSent >= 100, `valid ${validSent}, invalid ${invalidSent}`);
    assert.ok(singleSuccessChecked >= 5, `single-task successes compared with the HTTP body: ${singleSuccessChecked}`);
  } finally {
    await server.stop();
  }
});

test('objects nested to exactly the depth limit are recalled byte for byte; one level more is payloadTooDeep', async () => {
  const server = await startInProcess();
  try {
    const uuid = randomUUID();
    // request array (1) + task object (2) + 30 levels = 32.
    const deep = deepValue(MAX_DEPTH - 2, '-0');
    const source = `{"taskType":"imageInference","taskUUID":"${uuid}","model":"runware:101@1","positivePrompt":"deep","width":128,"height":128,"deep":${deep}}`;
    const run = await server.post(`[${source}]`);
    assert.equal(run.status, 200, run.text);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: uuid }]);
    assert.equal(
      details.text,
      `{"data":[{"taskType":"getTaskDetails","taskUUID":"${uuid}","request":[${source}],"response":${run.text}}]}`,
    );

    const tooDeep = source.replace(deep, deepValue(MAX_DEPTH - 1, '-0')).replace(uuid, randomUUID());
    const rejected = await server.post(`[${tooDeep}]`);
    assert.equal(rejected.status, 400);
    assert.equal((rejected.json.errors?.[0] as { code?: string }).code, 'payloadTooDeep');
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
