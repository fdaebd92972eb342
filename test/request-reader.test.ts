// Unit tests of the request reader: each element's exact source span, the limits it enforces
// and the errors it raises. The byte-exact property test drives it end to end; these pin down
// its edges one by one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, readTaskArray, type ReaderLimits } from '../src/protocol/request-reader.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const LIMITS: ReaderLimits = { maxTasks: 100, maxDepth: 32 };

function sources(text: string, limits: ReaderLimits = LIMITS): string[] {
  return readTaskArray(text, limits).map((e) => e.source);
}

function rejects(text: string, code: string, limits: ReaderLimits = LIMITS): void {
  assert.throws(
    () => readTaskArray(text, limits),
    (err: unknown) => {
      assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
      assert.equal(err.code, code, `code for ${JSON.stringify(text).slice(0, 80)}`);
      return true;
    },
  );
}

test('one object: its exact text is the source, its parsed value beside it', () => {
  const [e] = readTaskArray('[{"a":1}]', LIMITS);
  assert.equal(e!.source, '{"a":1}');
  assert.deepEqual(e!.value, { a: 1 });
});

test('spans keep every byte of each element, and only the whitespace around elements is trimmed', () => {
  const text = ' \r\n\t[ \t{ "b" : 1.0 ,\r\n"a":1e3 } ,\n\n{"2":-0,"1":12345678901234567890}\t]\r\n ';
  const els = readTaskArray(text, LIMITS);
  assert.deepEqual(
    els.map((e) => e.source),
    ['{ "b" : 1.0 ,\r\n"a":1e3 }', '{"2":-0,"1":12345678901234567890}'],
  );
  assert.deepEqual(els[0]!.value, { b: 1, a: 1000 });
  // JSON.stringify of the parsed value would reorder "2"/"1" and lose digits: the source does not.
  assert.notEqual(JSON.stringify(els[1]!.value), els[1]!.source);
});

test('a span is always a slice of the input at the reported place', () => {
  const text = '[{"x":"]"} , {"y":[1,{"z":"}"}]},{}]';
  let from = 0;
  for (const s of sources(text)) {
    const at = text.indexOf(s, from);
    assert.ok(at >= 0, `span ${s} found in order`);
    from = at + s.length;
  }
  assert.deepEqual(sources(text), ['{"x":"]"}', '{"y":[1,{"z":"}"}]}', '{}']);
});

test('brackets, braces, commas and escaped quotes inside strings do not split elements', () => {
  const a = String.raw`{"s":"[{,}]\" , ] }"}`;
  const b = String.raw`{"t":"\\","u":"\\\"","v":"a\\\\"}`;
  const c = String.raw`{"k\"[":"\u0022]","w":"\/\b\f\n\r\t"}`;
  const text = `[${a},${b},${c}]`;
  const els = readTaskArray(text, LIMITS);
  assert.deepEqual(
    els.map((e) => e.source),
    [a, b, c],
  );
  assert.deepEqual(els[0]!.value, { s: '[{,}]" , ] }' });
  assert.deepEqual(els[1]!.value, { t: '\\', u: '\\"', v: 'a\\\\' });
  assert.deepEqual(els[2]!.value, { 'k"[': '"]', w: '/\b\f\n\r\t' });
});

test('a string ending in an even run of backslashes closes at its quote', () => {
  // "\\\\" is two escaped backslashes: the following quote ends the string.
  const text = String.raw`[{"a":"\\\\"},{"b":"x"}]`;
  assert.deepEqual(sources(text), [String.raw`{"a":"\\\\"}`, '{"b":"x"}']);
});

test('unicode: raw é, its \\u00e9 escape, astral characters and surrogate-pair escapes survive as written', () => {
  const a = '{"é":"é","\\u00e9":"\\u00e9","😀":"\\ud83d\\ude00","日本":"e\\u0301"}';
  const els = readTaskArray(`[${a}]`, LIMITS);
  assert.equal(els[0]!.source, a);
  // Duplicate keys after unescaping: JSON.parse keeps the last, the source keeps both.
  assert.deepEqual(els[0]!.value, { é: 'é', '😀': '😀', 日本: 'e\u0301' });
});

test('elements that are not objects are still split (the dispatcher rejects them)', () => {
  const els = readTaskArray('[1, "two" ,null,[3,[4]] ,true,{}]', LIMITS);
  assert.deepEqual(
    els.map((e) => e.source),
    ['1', '"two"', 'null', '[3,[4]]', 'true', '{}'],
  );
});

test('depth limit: exactly maxDepth levels pass, one more is payloadTooDeep', () => {
  const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  // The request array itself is level 1.
  assert.equal(readTaskArray(nest(32), LIMITS).length, 1);
  rejects(nest(33), 'payloadTooDeep');
  const objects = (levels: number) => '[' + '{"a":'.repeat(levels - 1) + '1' + '}'.repeat(levels - 1) + ']';
  assert.equal(readTaskArray(objects(32), LIMITS).length, 1);
  rejects(objects(33), 'payloadTooDeep');
  const small = { maxTasks: 10, maxDepth: 3 };
  assert.equal(readTaskArray('[{"a":[1]}]', small).length, 1);
  rejects('[{"a":[{}]}]', 'payloadTooDeep', small);
});

test('depth counts nesting, not the number of brackets: siblings never add up', () => {
  const wide = '[' + Array.from({ length: 50 }, () => '{"a":[[]]}').join(',') + ']';
  assert.equal(readTaskArray(wide, { maxTasks: 100, maxDepth: 4 }).length, 50);
});

test('brackets inside strings do not count towards the depth limit', () => {
  const text = `[{"a":"${'['.repeat(100)}${'{'.repeat(100)}"}]`;
  assert.equal(readTaskArray(text, LIMITS).length, 1);
});

test('task count limit: exactly maxTasks pass, one more is tooManyTasks', () => {
  const arr = (n: number) => '[' + Array.from({ length: n }, () => '{}').join(',') + ']';
  assert.equal(readTaskArray(arr(100), LIMITS).length, 100);
  rejects(arr(101), 'tooManyTasks');
  assert.equal(readTaskArray(arr(1), { maxTasks: 1, maxDepth: 4 }).length, 1);
  rejects(arr(2), 'tooManyTasks', { maxTasks: 1, maxDepth: 4 });
  // Commas inside elements are not tasks.
  assert.equal(readTaskArray('[{"a":[1,2,3,4,5],"b":2}]', { maxTasks: 1, maxDepth: 4 }).length, 1);
});

test('empty arrays are invalidPayload', () => {
  rejects('[]', 'invalidPayload');
  rejects(' [ \n\t ] ', 'invalidPayload');
});

test('bodies that are not arrays are invalidPayload', () => {
  for (const text of ['{}', '{"taskType":"imageInference"}', '1', '"[1]"', 'null', 'true', ' "x" ']) {
    rejects(text, 'invalidPayload');
  }
});

test('malformed and truncated JSON is invalidJSON', () => {
  const cases = [
    '',
    ' ',
    '[',
    '[{',
    '[{"a":1}',
    '[{"a":1},',
    '[{"a":1},]',
    '[{"a":1}]]',
    '[{"a":1}] x',
    '[{"a"}]',
    '[{a:1}]',
    "[{'a':1}]",
    '[{"a":"unterminated}]',
    '[{"a":01}]',
    '[{"a":1.}]',
    '[{"a":.5}]',
    '[{"a":NaN}]',
    '[{"a":undefined}]',
    '[{"a":"\\x41"}]',
    '[{"a":"tab\there"}]',
    '[{"a":1} {"b":2}]',
    '[}',
    '[{]}',
    '\u00a0[{}]',
    '[{}]\u2028',
    '/* c */[{}]',
  ];
  for (const text of cases) rejects(text, 'invalidJSON');
});

test('a byte-order mark inside the text is not JSON; decodeBody strips a leading one', () => {
  rejects('\uFEFF[{}]', 'invalidJSON');
  rejects('[\uFEFF{}]', 'invalidJSON');
  const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":"é"}]')]);
  const text = decodeBody(withBom);
  assert.equal(text, '[{"a":"é"}]');
  assert.deepEqual(sources(text), ['{"a":"é"}']);
});

test('decodeBody: valid UTF-8 in, the same text out; invalid UTF-8 is invalidJSON', () => {
  const text = '[{"é":"日本😀"}]';
  assert.equal(decodeBody(Buffer.from(text, 'utf8')), text);
  const invalid = [
    Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), // lone 0xff
    Buffer.from([0x5b, 0x22, 0xc3, 0x22, 0x5d]), // truncated 2-byte sequence
    Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]), // overlong '/'
    Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), // UTF-8 encoded surrogate
    Buffer.from([0x5b, 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x5d]), // above U+10FFFF
  ];
  for (const bytes of invalid) {
    assert.throws(
      () => decodeBody(bytes),
      (err: unknown) => err instanceof ProtocolError && err.code === 'invalidJSON' && err.status === 400,
    );
  }
});

test('errors carry their HTTP status', () => {
  for (const [text, status] of [
    ['[', 400],
    ['{}', 400],
    ['[[[[]]]]', 400],
  ] as const) {
    assert.throws(
      () => readTaskArray(text, { maxTasks: 10, maxDepth: 3 }),
      (err: unknown) => err instanceof ProtocolError && err.status === status,
    );
  }
});

test('large inputs are read in linear time (long strings full of escapes, many tasks)', () => {
  const big = '\\"'.repeat(200_000) + '\\\\'.repeat(200_000);
  const text =
    '[' +
    Array.from({ length: 100 }, (_, i) => `{"i":${i},"s":"${big.slice(0, 2000)}"}`).join(',') +
    `,{"s":"${big}"}` +
    ']';
  const started = process.hrtime.bigint();
  assert.throws(
    () => readTaskArray(text, LIMITS),
    (e: unknown) => e instanceof ProtocolError && e.code === 'tooManyTasks',
  );
  const els = readTaskArray(text, { maxTasks: 101, maxDepth: 4 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(els.length, 101);
  assert.equal(els[100]!.source, `{"s":"${big}"}`);
  assert.ok(ms < 2000, `took ${ms} ms`);
});

guardOpenHandles();
