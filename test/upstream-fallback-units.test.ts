// The pure parts of fallback upstreams: which upstreams a task may run on (the first upstream rule
// it matches, its `upstreams` in order, or every upstream), which failures let the next one try,
// and the upstream taskUUID each upstream gets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextUpstreamMayTry, upstreamChain } from '../src/engines/upstream/fallback-chain.js';
import { upstreamTaskUuid } from '../src/engines/upstream/upstream-engine.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const accounts = [
  { name: 'default', url: 'wss://up.example/v1', apiKey: 'k0' },
  { name: 'backup', url: 'https://b.example/v1', apiKey: 'k1' },
  { name: 'spare', url: 'ws://c.example/v1', apiKey: 'k2' },
];

test('a rule without upstreams tries every upstream in order; a rule with them, those in its order', () => {
  const routes = [
    { model: 'civitai:*', engine: 'upstream', upstreams: ['spare', 'default'] },
    { taskType: 'caption', engine: 'upstream', upstreams: ['backup'] },
    { engine: 'upstream' },
  ];
  const names = (taskType: string, model: string | null) =>
    upstreamChain({ taskType, model }, routes, accounts).map((a) => a.name);
  assert.deepEqual(names('imageInference', 'CIVITAI:1@2'), ['spare', 'default']);
  assert.deepEqual(names('caption', null), ['backup']);
  assert.deepEqual(names('imageInference', 'runware:101@1'), ['default', 'backup', 'spare']);
  assert.deepEqual(names('upscale', null), ['default', 'backup', 'spare'], 'a model rule never matches no model');
});

test('only providerUnavailable lets the next upstream run the task', () => {
  const subject = 'The upstream provider';
  assert.equal(nextUpstreamMayTry(new ProtocolError('providerUnavailable', { subject, reason: 'down' })), true);
  assert.equal(nextUpstreamMayTry(new ProtocolError('timeoutProvider', { subject, reason: 'slow' })), false);
  assert.equal(nextUpstreamMayTry(new ProtocolError('providerError', { subject, reason: 'HTTP 500' })), false);
  assert.equal(nextUpstreamMayTry(new Error('providerUnavailable')), false);
});

test('each upstream has its own taskUUID; the server-wide one keeps the UUID it always had', () => {
  const T = '39d7207a-87ef-4c93-8082-1431f9c1dc97';
  const primary = upstreamTaskUuid('org-a', T);
  assert.equal(upstreamTaskUuid('org-a', T, 'default'), primary);
  const backup = upstreamTaskUuid('org-a', T, 'backup');
  assert.notEqual(backup, primary);
  assert.notEqual(upstreamTaskUuid('org-a', T, 'spare'), backup);
  assert.equal(upstreamTaskUuid('org-a', T.toUpperCase(), 'backup'), backup);
  assert.match(backup, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

guardOpenHandles();
