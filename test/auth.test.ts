// The Bearer scheme as every endpoint reads it (src/auth/bearer.ts); the keys behind it are
// tested over the network by bad-input (REST), websocket-protocol and history-api.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerMatches, bearerToken } from '../src/auth/bearer.js';

test('a Bearer header gives its token, whatever the case of the scheme; anything else gives none', () => {
  assert.equal(bearerToken('Bearer rt_abc'), 'rt_abc');
  assert.equal(bearerToken('bearer   rt_abc  '), 'rt_abc');
  for (const bad of ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwdw==', 'Bearer a b', 'rt_abc']) {
    assert.equal(bearerToken(bad), undefined, JSON.stringify(bad));
  }
});

test('bearerMatches compares the whole token', () => {
  assert.ok(bearerMatches('Bearer s3cret', 's3cret'));
  assert.ok(!bearerMatches('Bearer s3cre', 's3cret'));
  assert.ok(!bearerMatches('Bearer s3cretX', 's3cret'));
  assert.ok(!bearerMatches(undefined, 's3cret'));
  assert.ok(!bearerMatches('Basic s3cret', 's3cret'));
});
