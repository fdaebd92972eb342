// Pure parts of the upstream engine: the upstream taskUUID, the forwarded text, reading replies,
// the circuit breaker, routing rules and the wildcard matching they share with prices.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardedSource, parseEnvelope, upstreamTaskUuid } from '../src/engines/upstream/upstream-engine.js';
import { CircuitBreaker } from '../src/engines/upstream/upstream-client.js';
import { EngineRouter, type ForwardingEngine } from '../src/engines/engine.js';
import { BuiltinEngine } from '../src/engines/builtin/builtin-engine.js';
import { isCanonicalUuid } from '../src/protocol/uuid.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { wildcardMatcher } from '../src/protocol/model-pattern.js';
import { PriceTable } from '../src/tasks/price-table.js';

const T = '0f5c6a1e-3f0e-4a59-9d0c-6d8d2b1f4e21';

test('the upstream taskUUID is a v4-shaped UUID, stable per (organization, taskUUID), case-insensitive, distinct across organizations', () => {
  const u = upstreamTaskUuid('org-a', T);
  assert.ok(isCanonicalUuid(u));
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(upstreamTaskUuid('org-a', T.toUpperCase()), u);
  assert.notEqual(upstreamTaskUuid('org-b', T), u);
});

test('the forwarded text is the source with only the taskUUID value replaced and webhookURL / uploadEndpoint cut out', () => {
  const source = `{"taskType":"imageInference", "taskUUID" :"${T}","seed":12345678901234567890,"x":1.0}`;
  assert.equal(forwardedSource({ source }, 'U'.repeat(36)), source.replace(T, 'U'.repeat(36)));
  // Delivery options runtrail carries out itself leave by splicing: the rest stays as written.
  const hooked = `{ "webhookURL" : "https://x/h" ,"taskType":"imageInference", "taskUUID" :"${T}","uploadEndpoint":"https://x/u","seed":12345678901234567890,"x":1.0 }`;
  assert.equal(
    forwardedSource({ source: hooked }, 'U'.repeat(36)),
    `{"taskType":"imageInference", "taskUUID" :"${'U'.repeat(36)}","seed":12345678901234567890,"x":1.0 }`,
  );
  // Names written with escapes are the same members; nested ones are left alone.
  const escaped = `{"taskUUID":"\\u0030${T.slice(1)}","webhook\\u0055RL":"h","inner":{"webhookURL":"keep","taskUUID":"keep"}}`;
  assert.equal(
    forwardedSource({ source: escaped }, 'V'),
    `{"taskUUID":"V","inner":{"webhookURL":"keep","taskUUID":"keep"}}`,
  );
});

test('replies: data and errors echo the caller; the older singular error is read; anything else is unrecognizedResponse', () => {
  const req = { taskUUID: T, taskType: 'caption' };
  const out = parseEnvelope(
    '{"data":[{"taskType":"x","taskUUID":"other","text":"hi"}],"errors":[{"code":"boom","message":"m"}]}',
    req,
  );
  assert.deepEqual(out.items, [{ taskType: 'caption', taskUUID: T, text: 'hi' }]);
  assert.deepEqual(out.errors, [{ code: 'boom', message: 'm', taskType: 'caption', taskUUID: T }]);
  assert.equal(parseEnvelope('{"error":{"code":"c","message":"m"}}', req).errors[0]!['code'], 'c');
  for (const bad of ['', 'nope', '[]', '{}', '{"data":{}}', '{"data":[1]}', '{"errors":[{"message":"no code"}]}']) {
    assert.throws(
      () => parseEnvelope(bad, req),
      (e: unknown) => e instanceof ProtocolError && e.code === 'unrecognizedResponse',
      bad,
    );
  }
});

test('circuit breaker: opens at the threshold, lets one probe through after the cooldown, closes on success', () => {
  const b = new CircuitBreaker(2, 1000);
  assert.ok(b.allow(0));
  b.failed(0);
  assert.ok(b.allow(0));
  b.failed(0);
  assert.ok(!b.allow(500));
  assert.ok(b.allow(1001), 'the probe');
  assert.ok(!b.allow(1002), 'one probe at a time');
  b.failed(1002);
  assert.ok(!b.allow(1500));
  assert.ok(b.allow(2003));
  b.succeeded();
  assert.ok(b.allow(2004) && b.allow(2004));
});

test('routes: first match wins, `*` wildcards, model rules never match tasks without a model', () => {
  const up: ForwardingEngine = {
    name: 'upstream',
    models: () => [],
    forward: () => Promise.reject(new Error('unused')),
  };
  const r = new EngineRouter(
    [new BuiltinEngine()],
    [up],
    [
      { model: 'runtrail:*', engine: 'builtin' },
      { model: 'civitai:*@*', engine: 'upstream' },
      { taskType: 'caption', engine: 'upstream' },
    ],
  );
  assert.equal(r.forModel('imageInference', 'runtrail:1@1')?.name, 'builtin');
  assert.equal(r.forModel('imageInference', 'runware:101@1'), undefined);
  assert.equal(r.forwarderFor('imageInference', 'civitai:1@2')?.name, 'upstream');
  assert.equal(r.forwarderFor('imageInference', 'civitai:1'), undefined);
  assert.equal(r.forwarderFor('caption', null)?.name, 'upstream');
  assert.equal(r.forwarderFor('imageUpload', null), undefined);
  assert.ok(!r.routable('videoInference', 'klingai:5@3'));
  assert.ok(r.routable('imageUpload', null));
  const plain = new EngineRouter([new BuiltinEngine()]);
  assert.equal(
    plain.forModel('imageInference', 'runware:101@1')?.name,
    'builtin',
    'without routes the built-in engine takes any AIR',
  );
  assert.equal(plain.forwarderFor('caption', null), undefined);
});

test('a model is routed and priced by the same wildcard rules, whatever its case (RUNWARE:101@1)', () => {
  const up: ForwardingEngine = {
    name: 'upstream',
    models: () => [],
    forward: () => Promise.reject(new Error('unused')),
  };
  const router = new EngineRouter([new BuiltinEngine()], [up], [{ model: 'runware:*', engine: 'upstream' }]);
  const prices = new PriceTable(
    [{ taskType: 'imageInference', model: 'runware:*', perItem: 0.004 }],
    [{ taskType: 'imageInference', model: '*', perItem: 0.0013 }],
  );
  for (const model of ['runware:101@1', 'RUNWARE:101@1', 'Runware:101@1']) {
    assert.equal(router.forwarderFor('imageInference', model)?.name, 'upstream', model);
    assert.equal(prices.perItem('imageInference', model), 0.004, model);
  }
  assert.equal(router.forwarderFor('imageInference', 'civitai:1@1'), undefined);
  assert.equal(prices.perItem('imageInference', 'civitai:1@1'), 0.0013, 'the next rule');
  assert.equal(prices.perItem('caption', 'RUNWARE:101@1'), 0, 'no rule for the task type');
  const exact = wildcardMatcher('a.b+c');
  assert.ok(exact('A.B+C') && !exact('axb+c'), 'only `*` is special');
});

guardOpenHandles();
