// Keeps the error code table in src/protocol/errors.ts and the one in docs/protocol.md in step,
// in both directions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_STATUS } from '../src/protocol/errors.js';
import { REPO_ROOT } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('every fixed error code is documented with its status, and every documented code exists', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Error codes'));
  const documented = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([A-Za-z]+)` \| (\d{3}) \|/gm)) documented.set(m[1]!, Number(m[2]));
  assert.ok(documented.size > 10, 'the docs table was found');
  assert.deepEqual(Object.fromEntries(documented), { ...ERROR_STATUS });
});

test('every code the source raises is in the table or follows the invalid/missing/unsupported<Param> pattern', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(REPO_ROOT, 'src'));
  const raised = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/new ProtocolError\(\s*'([A-Za-z]+)'/g)) raised.add(m[1]!);
  }
  assert.ok(raised.size > 5);
  for (const code of raised) {
    assert.ok(code in ERROR_STATUS || /^(invalid|missing|unsupported)[A-Z]/.test(code), `undocumented code ${code}`);
  }
});

guardOpenHandles();
