// Migrations are append-only and numbered once: a duplicate version would be skipped silently
// on databases that already applied the first one. Both backends mirror each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS as SQLITE } from '../src/ledger/sqlite/migrations.js';
import { MIGRATIONS as POSTGRES } from '../src/ledger/postgres/migrations.js';

test('migration versions are unique and increase by one, on both backends alike', () => {
  for (const list of [SQLITE, POSTGRES]) assert.deepEqual(list.map((m) => m.version), list.map((_m, i) => i + 1));
  assert.deepEqual(POSTGRES.map((m) => m.version), SQLITE.map((m) => m.version));
});
