// Comments and docs cite only what is in the repository (docs/, README): never notes kept outside
// it, nor issue numbers a reader of the repository cannot follow.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './helpers/server.js';

// Spelled in parts so this file does not cite them itself.
const OUTSIDE = ['DESIGN', 'PROTOCOL', 'TASK-TYPES', 'CLIENTS', 'CONVENTIONS'].map((name) => `${name}.md`);
const ISSUE = new RegExp(['\\bissue', '#?\\d'].join(' '), 'i');

function textFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) textFiles(p, out);
    else if (/\.(ts|js|md|html|css)$/.test(name)) out.push(p);
  }
  return out;
}

test('no comment or doc cites a document outside the repository or an issue number', () => {
  const files = ['src', 'test', 'bench', 'docs', 'web'].flatMap((d) => textFiles(join(REPO_ROOT, d)));
  files.push(join(REPO_ROOT, 'README.md'));
  assert.ok(files.length > 100);
  const found: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (OUTSIDE.some((doc) => line.includes(doc)) || ISSUE.test(line))
          found.push(`${relative(REPO_ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});
