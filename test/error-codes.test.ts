// Keeps the error catalogue in src/protocol/errors.ts and the tables in docs/protocol.md in step,
// in both directions: every code with its HTTP status and the template of its message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ERRORS,
  PARAMETER_ERRORS,
  ProtocolError,
  catalogueEntry,
  renderMessage,
  type FixedErrorCode,
} from '../src/protocol/errors.js';
import { REPO_ROOT } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const ROW = /^\| `([A-Za-z<>]+)` \| (\d{3}) \| `([^`]*)` \|/gm;

function documentedRows(heading: string): Map<string, { status: number; message: string }> {
  const doc = readFileSync(join(REPO_ROOT, 'docs/protocol.md'), 'utf8');
  const from = doc.indexOf(heading);
  assert.ok(from >= 0, `docs/protocol.md has a section ${heading}`);
  const next = doc.indexOf('\n## ', from + heading.length);
  const section = doc.slice(from, next < 0 ? undefined : next);
  const rows = new Map<string, { status: number; message: string }>();
  for (const m of section.matchAll(ROW)) rows.set(m[1]!, { status: Number(m[2]), message: m[3]! });
  return rows;
}

test('every fixed error code is documented with its status and message, and every documented code exists', () => {
  const documented = documentedRows('## Error codes');
  assert.ok(documented.size > 10, 'the docs table was found');
  const codes = Object.keys(ERRORS) as FixedErrorCode[];
  const catalogue = Object.fromEntries(codes.map((code) => [code, catalogueEntry(code)]));
  assert.deepEqual(Object.fromEntries(documented), catalogue);
});

test('the parameter families are documented with their status and message', () => {
  const documented = documentedRows('## Parameter errors');
  assert.deepEqual(Object.fromEntries(documented), {
    'invalid<Param>': { ...PARAMETER_ERRORS.invalid },
    'missing<Param>': { ...PARAMETER_ERRORS.missing },
    'invalid<Param>Count': { ...PARAMETER_ERRORS.count },
  });
});

test('messages are written from the catalogue: required and optional parameters, families, status', () => {
  const tooMany = new ProtocolError('tooManyTasks', { what: 'request', max: 5 });
  assert.equal(tooMany.message, 'A request may hold at most 5 tasks.');
  assert.equal(tooMany.status, 400);
  assert.equal(new ProtocolError('missingApiKey', { how: 'send a key' }).status, 401);
  const width = new ProtocolError('invalidWidth', { parameter: 'width', reason: 'It must be an integer.' });
  assert.equal(width.message, "Invalid value for 'width' parameter. It must be an integer.");
  assert.equal(width.status, 400);
  assert.equal(
    new ProtocolError('missingModel', { parameter: 'model' }).message,
    "Missing required parameter 'model'.",
  );
  assert.equal(
    new ProtocolError('missingModel', { parameter: 'model', hint: 'See modelSearch.' }).message,
    "Missing required parameter 'model'. See modelSearch.",
  );
  // A value that looks like a placeholder is written as it is, not filled in again.
  assert.equal(renderMessage('a {x} b', { x: '{y}', y: 'no' }), 'a {y} b');
});

test('no call site writes its own message: every ProtocolError names a catalogue code and passes parameters', () => {
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
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/new ProtocolError\(\s*'([A-Za-z]+)'/g)) raised.add(m[1]!);
    assert.doesNotMatch(text, /new ProtocolError\(\s*[^,()]+,\s*['"`]/, `${f} passes a literal message`);
  }
  assert.ok(raised.size > 20);
  for (const code of raised) {
    assert.ok(code in ERRORS || /^(invalid|missing)[A-Z]/.test(code), `undocumented code ${code}`);
  }
});

guardOpenHandles();
