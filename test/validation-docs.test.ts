// The per-model rules table in docs/protocol.md and the rule catalogue are checked against each
// other: the section is exactly what the catalogue generates, every catalogue entry has its row,
// every row names a model the server announces, every local model has an entry of its own; and
// the checker's rule kinds answer Runware's codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_MODELS } from '../src/engines/builtin/catalogue.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { checkRules } from '../src/validation/check-rules.js';
import {
  announcedRows,
  parametersOf,
  renderValidationSection,
  validationSectionOf,
} from '../src/validation/docs-table.js';
import { durations, float, fpsValues, formats, type ModelRules } from '../src/validation/model-rules.js';
import { allRules, localRules, rulesFor } from '../src/validation/rule-catalogue.js';
import { wildcardMatcher } from '../src/protocol/model-pattern.js';
import { REPO_ROOT } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/protocol.md'), 'utf8');
const section = validationSectionOf(doc);

/** The (task type, model) cells of the section's first table. */
function documentedModels(): Set<string> {
  const out = new Set<string>();
  for (const m of (section ?? '').matchAll(/^\| `([A-Za-z0-9]+)` \| (`([^`]+)`|any other AIR) \|/gm))
    out.add(`${m[1]} ${m[3] ?? '*'}`);
  return out;
}

test('docs/protocol.md holds the per-model rules section exactly as the catalogue generates it (npm run docs:validation)', () => {
  assert.ok(section, 'the section markers are in docs/protocol.md');
  assert.equal(section, renderValidationSection());
});

test('every catalogue entry has its row in the docs tables, and every row is a model the server announces', () => {
  const documented = documentedModels();
  assert.ok(documented.size >= 60, String(documented.size));
  const localAirs = BUILTIN_MODELS.flatMap((m) => m.taskTypes.map((t) => ({ taskType: t, air: m.air })));
  for (const r of allRules()) {
    if (r.air === '*') continue; // a task type's generic rules: its "any other AIR" row, where one is announced
    if (documented.has(`${r.taskType} ${r.air}`)) continue;
    // A pattern covering local AIRs (the masking models) is documented by their rows.
    const covers = localAirs.filter((l) => l.taskType === r.taskType && wildcardMatcher(r.air)(l.air));
    assert.ok(covers.length > 0, `${r.taskType} ${r.air} is documented`);
    for (const l of covers) assert.ok(documented.has(`${l.taskType} ${l.air}`), `${l.taskType} ${l.air} is documented`);
  }
  const announced = new Set<string>();
  for (const m of BUILTIN_MODELS) {
    for (const t of m.taskTypes) announced.add(`${t} ${m.air}`);
    for (const s of m.standsIn) announced.add(`${s.taskType} ${s.model}`);
  }
  for (const row of documented) assert.ok(announced.has(row), `${row} is announced by a built-in model`);
  assert.equal(announcedRows().length, documented.size);
});

test('every model the built-in engine serves has an entry of its own, with what its engine honours', () => {
  for (const m of BUILTIN_MODELS)
    for (const t of m.taskTypes) {
      const rules = rulesFor(t, m.air);
      assert.ok(rules && rules.source === 'runtrail' && 'honours' in rules, `${t} ${m.air}`);
    }
  // Every stand-in has rules: its own entry or its task type's generic ones.
  for (const m of BUILTIN_MODELS)
    for (const s of m.standsIn) assert.ok(rulesFor(s.taskType, s.model), `${s.taskType} ${s.model}`);
});

test('every Runware AIR with rules of its own is one a local model stands in for (so modelSearch finds it)', () => {
  const standIns = new Set(BUILTIN_MODELS.flatMap((m) => m.standsIn.map((s) => `${s.taskType} ${s.model}`)));
  for (const r of allRules().filter((r) => r.source !== 'runtrail' && r.air !== '*'))
    assert.ok(standIns.has(`${r.taskType} ${r.air}`), r.air);
});

test("what a local model honours is among its task type's parameters", () => {
  for (const r of localRules()) {
    const parameters = parametersOf(r.taskType);
    assert.ok(parameters.length > 0, r.taskType);
    for (const p of r.honours) assert.ok(parameters.includes(p), `${r.air}: ${p}`);
  }
});

/** Each task type's table in the section: its header cells and its rows' cells. */
function documentedTables(): Map<string, { header: string[]; rows: string[][] }> {
  const tables = new Map<string, { header: string[]; rows: string[][] }>();
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split(' | ')
      .map((c) => c.trim());
  for (const m of (section ?? '').matchAll(/^\*\*([A-Za-z]+)\*\*\n\n((?:\|.*\|\n)+)/gm)) {
    const [head, , ...body] = m[2]!.trim().split('\n');
    tables.set(m[1]!, { header: cells(head!), rows: body.map(cells) });
  }
  return tables;
}

test('every model of a task type with outputFormat has the formats it writes, and the docs table says them', () => {
  const tables = documentedTables();
  let checked = 0;
  for (const r of allRules()) {
    if (!parametersOf(r.taskType).includes('outputFormat')) continue;
    const rule = r.params['outputFormat'];
    assert.ok(rule?.kind === 'values' && rule.refusal === 'unsupported', `${r.taskType} ${r.air} lists its formats`);
    assert.ok(rule.among && rule.allowed.every((f) => rule.among!.includes(String(f))), `${r.air}: documented formats`);
  }
  for (const row of announcedRows()) {
    const table = tables.get(row.taskType);
    assert.ok(table, `${row.taskType} has a table`);
    const column = table.header.indexOf('outputFormat');
    const formatsOf = row.rules?.params['outputFormat'];
    if (formatsOf === undefined) {
      assert.equal(column, -1, `${row.taskType}: no outputFormat column where no model writes files`);
      continue;
    }
    assert.ok(column >= 0, `${row.taskType} has an outputFormat column`);
    const cells = table.rows.find((c) => c[1] === (row.air === '*' ? 'any other AIR' : `\`${row.air}\``));
    assert.ok(cells, `${row.taskType} ${row.air} has a row`);
    assert.equal(cells[column], formatsOf.kind === 'values' ? formatsOf.allowed.join(', ') : '', row.air);
    checked++;
  }
  assert.ok(checked >= 50, String(checked));
});

test('a format the model does not write answers unsupportedOutputFormat; one no task of its kind writes is the schema’s', () => {
  const flux = rulesFor('imageInference', 'runware:101@1')!;
  const error = (() => {
    try {
      checkRules(flux, { outputFormat: 'tiff' });
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      return err;
    }
    throw new Error('expected a refusal');
  })();
  assert.deepEqual(error.toObject(), {
    code: 'unsupportedOutputFormat',
    message:
      "Invalid value for 'outputFormat' parameter. Model 'runware:101@1' (FLUX.1 [dev]) takes outputFormat JPG, PNG, WEBP only.",
    parameter: 'outputFormat',
    type: 'string',
    allowedValues: ['JPG', 'PNG', 'WEBP'],
    documentation: 'https://runware.ai/docs',
  });
  // BMP is no format Runware documents: the schema answers invalidOutputFormat.
  checkRules(flux, { outputFormat: 'BMP' });
  checkRules(flux, { outputFormat: 'webp' });
});

/** A video model's rules, as the videoInference task type will declare them. */
const VIDEO: ModelRules = {
  taskType: 'videoInference',
  air: 'example:1@1',
  name: 'an example video model',
  source: 'runware-model-page',
  params: {
    duration: durations(6),
    fps: fpsValues(24, 30),
    outputFormat: formats('video', 'MP4', 'WEBM'),
    CFGScale: float(0, 10),
  },
};

function refusal(task: Record<string, unknown>): ProtocolError {
  try {
    checkRules(VIDEO, task);
  } catch (err) {
    assert.ok(err instanceof ProtocolError);
    return err;
  }
  throw new Error('expected a refusal');
}

test('durations, fps and output formats off a model list answer unsupported<Param> with allowedValues', () => {
  const duration = refusal({ duration: 5 });
  assert.equal(duration.code, 'unsupportedDuration');
  assert.deepEqual(duration.toObject(), {
    code: 'unsupportedDuration',
    message:
      "Invalid value for 'duration' parameter. Model 'example:1@1' (an example video model) takes duration 6 only.",
    parameter: 'duration',
    type: 'float',
    allowedValues: [6],
    documentation: 'https://runware.ai/docs',
  });
  assert.equal(duration.status, 400);
  assert.equal(refusal({ duration: 6, fps: 25 }).code, 'unsupportedFps');
  assert.deepEqual(refusal({ duration: 6, outputFormat: 'MOV' }).details.allowedValues, ['MP4', 'WEBM']);
  assert.equal(refusal({ duration: 6, CFGScale: 11 }).code, 'invalidCFGScale');
  // Within the lists (formats in any case) nothing is refused.
  checkRules(VIDEO, { duration: 6, fps: 30, outputFormat: 'webm', CFGScale: 5 });
});

guardOpenHandles();
