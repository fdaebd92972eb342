// The byte-exact corpus: generated task objects written as raw JSON text full of things
// JSON.parse + JSON.stringify would change (number spellings, escapes, duplicate and
// integer-like keys, odd whitespace, deep nesting), shared by the byte-exact recall test and the
// forwarding test (the text sent upstream is the caller's, spliced).

import fc from 'fast-check';
import { randomUUID } from 'node:crypto';

/** The server's default RUNTRAIL_MAX_JSON_DEPTH. */
export const MAX_DEPTH = 32;

// ---- tricky JSON text ---------------------------------------------------------------------

export const ws = fc.constantFrom('', '', ' ', '\t', '\r\n', '\n', ' \t ', '\r\n\t\t', '\n  ');

export const numberText = fc.oneof(
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
export const stringText = fc.array(stringPiece, { maxLength: 8 }).map((parts) => `"${parts.join('')}"`);

/** Keys for extra (unknown) fields: integer-like ones out of order, escapes next to raw text. */
export const extraKey = fc.oneof(
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

export function objectText(members: readonly { key: string; value: string }[], w: readonly string[]): string {
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
export function valueText(levels: number): fc.Arbitrary<string> {
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
export function deepValue(levels: number, leaf: string): string {
  let text = leaf;
  for (let i = 0; i < levels; i++) text = i % 2 === 0 ? `[${text}]` : `{"d${i}":${text}}`;
  return text;
}

// ---- task objects -------------------------------------------------------------------------

export interface GeneratedTask {
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

export interface TaskSpec {
  uuidStyle: 'lower' | 'upper' | 'mixed';
  valid: boolean;
  build: (uuid: string) => string;
}

const UUID_SLOT = '\u0000uuid\u0000';

export const taskArb: fc.Arbitrary<TaskSpec> = fc
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

export function buildTask(spec: TaskSpec): GeneratedTask {
  const uuid = uuidIn(spec.uuidStyle);
  return { uuid, source: spec.build(uuid), valid: spec.valid };
}
