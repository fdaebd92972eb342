// `npm run docs:validation`: rewrites the per-model rules section of docs/protocol.md from the
// rule catalogue (run from the repository root, after a build).

import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { withValidationSection } from './docs-table.js';

const path = resolve(process.argv[2] ?? 'docs/protocol.md');
const before = readFileSync(path, 'utf8');
const after = withValidationSection(before);
if (after === before) console.log(`${path}: the per-model rules section is up to date`);
else {
  writeFileSync(path, after);
  console.log(`${path}: per-model rules section rewritten`);
}
