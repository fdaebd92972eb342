// Unit tests for the small pure pieces of task history: time and filter parsing, cursors, the
// LIKE pattern, the prompt preview and the token-preserving JSON indenter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCursor, encodeCursor, parseLimit, parseTaskFilter, parseTime } from '../src/history/task-filter.js';
import { containsPattern } from '../src/ledger/task-query.js';
import { promptOf } from '../src/history/task-summary.js';
import { indentJson } from '../src/cli/json-indent.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('times: ISO dates and date-times, epoch milliseconds, durations back from now', () => {
  const now = Date.UTC(2026, 0, 10, 12);
  assert.equal(parseTime('2026-01-02', 'since', now), Date.UTC(2026, 0, 2));
  assert.equal(parseTime('2026-01-02T03:04:05Z', 'since', now), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseTime('2026-01-02T03:04:05.250+01:00', 'since', now), Date.UTC(2026, 0, 2, 2, 4, 5, 250));
  assert.equal(parseTime('1767225600000', 'since', now), 1767225600000);
  assert.equal(parseTime('7d', 'since', now), now - 7 * 86_400_000);
  assert.equal(parseTime('1.5h', 'since', now), now - 5_400_000);
  assert.equal(parseTime('30m', 'since', now), now - 1_800_000);
  assert.equal(parseTime(undefined, 'since', now), undefined);
  assert.equal(parseTime('', 'since', now), undefined);
  for (const bad of ['yesterday', '2026-13-45', '12', '7w', '2026-01-02T25:00:00Z']) {
    assert.throws(
      () => parseTime(bad, 'until', now),
      (e: unknown) => e instanceof ProtocolError && e.code === 'invalidUntil' && e.status === 400,
      bad,
    );
  }
});

test('filters: each word maps to its field; bad values raise invalid<Param>', () => {
  assert.deepEqual(parseTaskFilter({}), {});
  assert.deepEqual(
    parseTaskFilter({
      taskType: 'imageInference',
      status: 'error',
      model: 'runware:101@1',
      text: 'fox',
      since: '2026-01-01',
      until: '2026-02-01',
    }),
    {
      taskType: 'imageInference',
      status: 'error',
      model: 'runware:101@1',
      text: 'fox',
      createdFrom: Date.UTC(2026, 0, 1),
      createdBefore: Date.UTC(2026, 1, 1),
    },
  );
  assert.throws(() => parseTaskFilter({ status: 'done' }), { code: 'invalidStatus' });
  assert.throws(() => parseTaskFilter({ text: 'x'.repeat(257) }), { code: 'invalidText' });
  assert.equal(parseLimit(undefined, 50, 500), 50);
  assert.equal(parseLimit('500', 50, 500), 500);
  for (const bad of ['0', '501', '-1', '1.5', 'ten'])
    assert.throws(() => parseLimit(bad, 50, 500), { code: 'invalidLimit' }, bad);
});

test('cursors round-trip and reject anything else', () => {
  const cursor = { createdAt: 1767225600123, taskUUID: 'a770f077-f413-47de-9dac-be0b26a35da6' };
  assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
  assert.equal(decodeCursor(undefined), null);
  for (const bad of [
    '%%%',
    'bm90IGpzb24',
    Buffer.from('[1.5,"x"]').toString('base64url'),
    Buffer.from('{"a":1}').toString('base64url'),
  ]) {
    assert.throws(() => decodeCursor(bad), { code: 'invalidCursor' }, bad);
  }
});

test('search text is matched literally inside a LIKE pattern', () => {
  assert.equal(containsPattern('fox'), '%fox%');
  assert.equal(containsPattern('100%_a\\b'), '%100\\%\\_a\\\\b%');
});

test('the prompt preview comes from the first task object', () => {
  assert.equal(promptOf('[{"taskType":"imageInference","positivePrompt":"a cat"}]'), 'a cat');
  assert.equal(promptOf('[{"taskType":"imageUpload","image":"data:…"}]'), null);
  assert.equal(promptOf('[{"positivePrompt":42}]'), null);
  assert.equal(promptOf(`[{"positivePrompt":"${'p'.repeat(400)}"}]`), `${'p'.repeat(300)}…`);
});

test('indenting changes whitespace only: every token stays as stored', () => {
  const stored =
    '[{"taskUUID":"x","width":64.0,"seed":1e3,"big":12345678901234567890,"s":"a, b: {c}","e":"\\u00e9\\"","l":[],"o":{},"n":[1,[2]]}]';
  const indented = indentJson(stored);
  assert.equal(
    indented,
    [
      '[',
      '  {',
      '    "taskUUID": "x",',
      '    "width": 64.0,',
      '    "seed": 1e3,',
      '    "big": 12345678901234567890,',
      '    "s": "a, b: {c}",',
      '    "e": "\\u00e9\\"",',
      '    "l": [],',
      '    "o": {},',
      '    "n": [',
      '      1,',
      '      [',
      '        2',
      '      ]',
      '    ]',
      '  }',
      ']',
    ].join('\n'),
  );
  assert.equal(indentJson('{ "a" :\n 1 }'), '{\n  "a": 1\n}');
});

guardOpenHandles();
