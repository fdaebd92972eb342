// Property test of byte-exact recall: generated task objects, written as
// raw JSON text full of things JSON.parse + JSON.stringify would change, go to the server's HTTP
// edge as raw bodies; getTaskDetails must give back each object's source text byte for byte and
// the response envelope exactly as first sent. The server runs in this process and the requests go
// through inject() (test/helpers/in-process.ts): bytes in and out are the edge's own, and a socket
// would add only time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { MAX_DEPTH, buildTask, deepValue, taskArb, ws } from './helpers/tricky-json.js';
import type { Reply } from './helpers/server.js';
import { startInProcess } from './helpers/in-process.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const SEED = 20240611;
const TARGET_TASKS = 1000;

// ---- checks -------------------------------------------------------------------------------

interface ParsedReply {
  data?: Record<string, unknown>[];
  errors?: Record<string, unknown>[];
}

/** The texts of this task's items in a reply, each checked to occur verbatim in the reply bytes. */
function itemsOf(reply: Reply, uuid: string): { data: string[]; errors: string[] } {
  const parsed = JSON.parse(reply.text) as ParsedReply;
  const mine = (o: Record<string, unknown>) =>
    typeof o['taskUUID'] === 'string' && o['taskUUID'].toLowerCase() === uuid.toLowerCase();
  // Items were serialized once by JSON.stringify, for which stringify(parse(t)) === t; the
  // substring check makes sure these are the very bytes of the reply.
  const data = (parsed.data ?? []).filter(mine).map((o) => JSON.stringify(o));
  const errors = (parsed.errors ?? []).filter(mine).map((o) => JSON.stringify(o));
  for (const item of [...data, ...errors])
    assert.ok(reply.text.includes(item), `item text occurs in the reply: ${item.slice(0, 200)}`);
  return { data, errors };
}

function envelopeOf(items: { data: string[]; errors: string[] }): string {
  const parts: string[] = [];
  if (items.data.length > 0 || items.errors.length === 0) parts.push(`"data":[${items.data.join(',')}]`);
  if (items.errors.length > 0) parts.push(`"errors":[${items.errors.join(',')}]`);
  return `{${parts.join(',')}}`;
}

test(`getTaskDetails returns each of ${TARGET_TASKS}+ generated task objects and its response byte for byte`, async () => {
  const server = await startInProcess();
  let sent = 0;
  let validSent = 0;
  let invalidSent = 0;
  let singleSuccessChecked = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(taskArb, { minLength: 1, maxLength: 12 }),
        fc.array(ws, { minLength: 4, maxLength: 4 }),
        async (specs, w) => {
          const tasks = specs.map(buildTask);
          const body = `${w[0]}[${w[1]}${tasks.map((t) => t.source).join(`${w[2]},${w[3]}`)}${w[1]}]${w[0]}`;
          const run = await server.post(body);
          const anyValid = tasks.some((t) => t.valid);
          assert.equal(
            run.status,
            anyValid ? 200 : 400,
            `status of ${body.slice(0, 300)}\n-> ${run.text.slice(0, 500)}`,
          );

          const expected = tasks.map((t) => {
            const items = itemsOf(run, t.uuid);
            if (t.valid) {
              assert.equal(items.errors.length, 0, `valid task succeeded: ${t.source}\n-> ${items.errors.join('\n')}`);
              assert.ok(items.data.length >= 1);
            } else {
              assert.equal(items.data.length, 0, `invalid task failed: ${t.source}`);
              assert.equal(items.errors.length, 1, `invalid task has one error: ${t.source}`);
            }
            return envelopeOf(items);
          });
          if (tasks.length === 1 && tasks[0]!.valid) {
            // A single successful task: the HTTP body is its envelope.
            assert.equal(expected[0], run.text);
            singleSuccessChecked++;
          }

          const lookup = '[' + tasks.map((t) => `{"taskType":"getTaskDetails","taskUUID":"${t.uuid}"}`).join(',') + ']';
          const details = await server.post(lookup);
          assert.equal(details.status, 200, details.text.slice(0, 500));
          tasks.forEach((t, i) => {
            const item = `{"taskType":"getTaskDetails","taskUUID":"${t.uuid}","request":[${t.source}],"response":${expected[i]}}`;
            if (!details.text.includes(item)) {
              const got = (JSON.parse(details.text) as ParsedReply).data?.find((d) => d['taskUUID'] === t.uuid);
              assert.fail(
                `getTaskDetails of ${t.uuid} differs.\nexpected item:\n${item}\ngot (re-serialized):\n${JSON.stringify(got)}`,
              );
            }
          });
          sent += tasks.length;
          for (const t of tasks) {
            if (t.valid) validSent++;
            else invalidSent++;
          }
        },
      ),
      { seed: SEED, numRuns: 180, endOnFailure: true },
    );
    assert.ok(sent >= TARGET_TASKS, `sent ${sent} task objects`);
    assert.ok(validSent >= 500 && invalidSent >= 100, `valid ${validSent}, invalid ${invalidSent}`);
    assert.ok(singleSuccessChecked >= 5, `single-task successes compared with the HTTP body: ${singleSuccessChecked}`);
  } finally {
    await server.stop();
  }
});

test('objects nested to exactly the depth limit are recalled byte for byte; one level more is payloadTooDeep', async () => {
  const server = await startInProcess();
  try {
    const uuid = randomUUID();
    // request array (1) + task object (2) + 30 levels = 32.
    const deep = deepValue(MAX_DEPTH - 2, '-0');
    const source = `{"taskType":"imageInference","taskUUID":"${uuid}","model":"runware:101@1","positivePrompt":"deep","width":128,"height":128,"deep":${deep}}`;
    const run = await server.post(`[${source}]`);
    assert.equal(run.status, 200, run.text);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: uuid }]);
    assert.equal(
      details.text,
      `{"data":[{"taskType":"getTaskDetails","taskUUID":"${uuid}","request":[${source}],"response":${run.text}}]}`,
    );

    const tooDeep = source.replace(deep, deepValue(MAX_DEPTH - 1, '-0')).replace(uuid, randomUUID());
    const rejected = await server.post(`[${tooDeep}]`);
    assert.equal(rejected.status, 400);
    assert.equal((rejected.json.errors?.[0] as { code?: string }).code, 'payloadTooDeep');
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
