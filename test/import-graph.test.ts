// The module graph of the built server (dist/src): no import cycles, and task modules (the ones
// registry.ts maps a taskType to) are imported by the registry alone; what other modules share
// with them lives in helpers such as tasks/task-state.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardOpenHandles } from './helpers/open-handles.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

const files = modules(ROOT);
const known = new Set(files);
const graph = new Map<string, string[]>(
  files.map((f) => {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]/gm)].map((m) =>
      resolve(dirname(f), m[1] ?? ''),
    );
    return [f, deps.filter((d) => known.has(d))];
  }),
);
const name = (f: string) => relative(ROOT, f);

test('the server has no import cycles', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map(name).join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.ok(files.length > 50, `only ${files.length} modules under ${ROOT}`);
  assert.deepEqual(cycles, []);
});

test('task modules are imported by the registry alone', () => {
  const registry = join(ROOT, 'tasks/registry.js');
  const taskModules = new Set(graph.get(registry));
  assert.ok(taskModules.has(join(ROOT, 'tasks/get-response.js')));
  const users = [...graph].flatMap(([f, deps]) =>
    f === registry ? [] : deps.filter((d) => taskModules.has(d)).map((d) => `${name(f)} -> ${name(d)}`),
  );
  assert.deepEqual(users, []);
});

guardOpenHandles();
