// The chain's payloads are written out key by key (chain-payload.ts) instead of through
// JSON.stringify of an object. Every ledger written before (and every verifier) hashes the
// JSON.stringify text, so the two must agree byte for byte: here, over random fields, including
// the ones JSON escapes (quotes, control characters, lone surrogates), numbers it writes as null,
// and values the fast form hands back to the object path (undefined).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  completePayload,
  finishedPayload,
  recordPayload,
  type CompletedFields,
  type RecordedFields,
} from '../src/ledger/chain-payload.js';
import type { MediaRecord } from '../src/ledger/types.js';
import { guardOpenHandles } from './helpers/open-handles.js';

guardOpenHandles();

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

// The object each payload stood for, written here independently of chain-payload.ts.
const recorded = (t: RecordedFields) => ({
  taskType: t.taskType,
  model: t.model,
  transport: t.transport,
  createdAt: t.createdAt,
  request: sha(t.requestText),
});
const completed = (c: CompletedFields) => ({
  status: c.status,
  completedAt: c.completedAt,
  cost: c.cost,
  errorCode: c.errorCode,
  engine: c.engine,
  response: c.responseText === null ? null : sha(c.responseText),
  media: c.media.map((m) => ({ mediaUUID: m.mediaUUID.toLowerCase(), bytes: m.bytes, sha256: m.sha256 ?? null })),
});

// Any text JSON may have to escape, and numbers JSON.stringify writes its own way (-0, 1e21, NaN).
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\u2028', '\ud800', '\n'));
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 1e21, 5e-7, Number.MAX_SAFE_INTEGER, Infinity, -Infinity, NaN),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, fc.constant(null));
// Now and then a value the types rule out but a caller could still pass (the object path takes it).
const odd = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: a }, { weight: 1, arbitrary: fc.constant(undefined) });

const recordedFields: fc.Arbitrary<RecordedFields> = fc.record({
  orgId: text,
  taskUUID: fc.oneof(fc.uuid(), text),
  taskType: odd(text),
  requestText: text,
  model: odd(maybe(text)),
  transport: odd(text),
  createdAt: odd(number),
}) as fc.Arbitrary<RecordedFields>;

const media: fc.Arbitrary<MediaRecord> = fc.record({
  mediaUUID: fc.uuid().map((u) => u.toUpperCase()),
  bytes: fc.nat(),
  sha256: fc.oneof(fc.constant(undefined), fc.constant(null), fc.string({ minLength: 64, maxLength: 64 })),
}) as unknown as fc.Arbitrary<MediaRecord>;

const completedFields: fc.Arbitrary<CompletedFields> = fc.record({
  status: odd(text),
  responseText: maybe(text),
  cost: odd(maybe(number)),
  errorCode: odd(maybe(text)),
  engine: odd(maybe(text)),
  completedAt: odd(maybe(number)),
  media: fc.array(media, { maxLength: 3 }),
}) as fc.Arbitrary<CompletedFields>;

test('record payloads are the JSON.stringify text of their fields', () => {
  fc.assert(
    fc.property(recordedFields, (t) => {
      const expected = JSON.stringify({ v: 1, kind: 'record', taskUUID: t.taskUUID.toLowerCase(), ...recorded(t) });
      assert.equal(recordPayload(t), expected);
    }),
    { numRuns: 2000 },
  );
});

test('complete payloads are the JSON.stringify text of their fields', () => {
  fc.assert(
    fc.property(fc.uuid(), completedFields, (uuid, c) => {
      const expected = JSON.stringify({ v: 1, kind: 'complete', taskUUID: uuid.toLowerCase(), ...completed(c) });
      assert.equal(completePayload(uuid, c), expected);
    }),
    { numRuns: 2000 },
  );
});

test('finished payloads are the JSON.stringify text of both parts, in order', () => {
  fc.assert(
    fc.property(recordedFields, completedFields, (t, c) => {
      const expected = JSON.stringify({
        v: 1,
        kind: 'finished',
        taskUUID: t.taskUUID.toLowerCase(),
        ...recorded(t),
        ...completed(c),
      });
      assert.equal(finishedPayload(t, c), expected);
    }),
    { numRuns: 2000 },
  );
});

test('a payload written by the key-by-key form is the one a ledger of before holds (a fixed example)', () => {
  // The text the object form wrote for these fields (taken from a build before the change).
  const t: RecordedFields = {
    orgId: 'org_1',
    taskUUID: '3F1B2C4D-1111-2222-3333-444455556666',
    taskType: 'modelSearch',
    requestText: '{"taskType":"modelSearch"}',
    model: null,
    transport: 'rest',
    createdAt: 1796684076577,
  };
  const c: CompletedFields = {
    status: 'success',
    responseText: '{"data":[]}',
    cost: 0.0013,
    errorCode: null,
    engine: 'builtin',
    completedAt: 1796684076601,
    media: [],
  };
  assert.equal(
    finishedPayload(t, c),
    '{"v":1,"kind":"finished","taskUUID":"3f1b2c4d-1111-2222-3333-444455556666","taskType":"modelSearch",' +
      '"model":null,"transport":"rest","createdAt":1796684076577,' +
      '"request":"1cd37d83b7859ba3e62683d4e60797022fa9c85b763fc659bd6701cc097784e6",' +
      '"status":"success","completedAt":1796684076601,"cost":0.0013,"errorCode":null,"engine":"builtin",' +
      '"response":"8fe32e407a1038ee38753b70e5374b3a46d6ae9d5f16cd5b73c53abaca8f5ed0","media":[]}',
  );
});
