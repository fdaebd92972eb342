// Property test of the text runtrail forwards upstream (engines/upstream, protocol/source-members):
// over the byte-exact corpus (test/helpers/tricky-json.ts) with delivery options runtrail carries
// out itself (webhookURL, uploadEndpoint) put anywhere among the members — names written with
// escapes, duplicated, and decoys of the same names nested inside other values — the forwarded
// text is exactly the source with those members (each with one comma) cut out and the taskUUID's
// value replaced: every other byte is the caller's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { forwardedSource } from '../src/engines/upstream/upstream-engine.js';
import { buildTask, extraKey, stringText, taskArb, valueText, ws } from './helpers/tricky-json.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const SEED = 20261202;
const DELIVERY_KEYS = ['"webhookURL"', '"webhook\\u0055RL"', '"uploadEndpoint"', '"upload\\u0045ndpoint"'];

/** One member's text as it sits between two commas: its whitespace, key, colon and value. */
const memberText = (w: readonly string[], key: string, value: string) => `${w[0]}${key}${w[1]}:${w[2]}${value}${w[3]}`;
const spacing = fc.array(ws, { minLength: 4, maxLength: 4 });

const delivery = fc.record({
  key: fc.constantFrom(...DELIVERY_KEYS),
  value: fc.oneof(stringText, valueText(2)),
  w: spacing,
});

test('the byte-exact corpus with delivery options before and after: forwarded is the generated task itself, under the upstream taskUUID', () => {
  fc.assert(
    fc.property(
      taskArb,
      fc.array(delivery, { maxLength: 3 }),
      fc.array(delivery, { maxLength: 3 }),
      (spec, head, tail) => {
        const { uuid, source: plain } = buildTask(spec);
        const body = plain.slice(1, -1);
        const pieces = [
          ...head.map((d) => memberText(d.w, d.key, d.value)),
          body,
          ...tail.map((d) => memberText(d.w, d.key, d.value)),
        ];
        const source = `{${pieces.join(',')}}`;
        const up = randomUUID();
        assert.equal(forwardedSource({ source }, up), spec.build(up), `from ${source} (caller's ${uuid})`);
      },
    ),
    { seed: SEED, numRuns: 400 },
  );
});

test('delivery options anywhere among tricky members, with nested decoys: cut out with one comma each, nothing else changes', () => {
  const member = fc.record({ key: extraKey, value: valueText(3), w: spacing });
  const decoy = fc.record({
    key: extraKey,
    value: fc.constantFrom(
      '{"webhookURL":"nested","taskUUID":"nested"}',
      '[{"uploadEndpoint":1}]',
      '"\\"webhookURL\\":1"',
    ),
    w: spacing,
  });
  const entry = fc.oneof(
    { weight: 3, arbitrary: member.map((m) => ({ ...m, drop: false })) },
    { weight: 1, arbitrary: decoy.map((m) => ({ ...m, drop: false })) },
    { weight: 2, arbitrary: delivery.map((m) => ({ ...m, drop: true })) },
  );
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 10 }), fc.nat(10), spacing, (entries, at, w) => {
      const caller = randomUUID().toUpperCase();
      const up = randomUUID();
      const uuidMember = (id: string) => ({ key: '"taskUUID"', value: `"${id}"`, w, drop: false, isUuid: true });
      const all = [...entries.map((e) => ({ ...e, isUuid: false }))];
      all.splice(Math.min(at, all.length), 0, uuidMember(caller));
      const source = `{${all.map((m) => memberText(m.w, m.key, m.value)).join(',')}}`;
      const expected = `{${all
        .filter((m) => !m.drop)
        .map((m) => memberText(m.w, m.key, m.isUuid ? `"${up}"` : m.value))
        .join(',')}}`;
      const forwarded = forwardedSource({ source }, up);
      assert.equal(forwarded, expected, `from ${source}`);
      const parsed = JSON.parse(forwarded) as Record<string, unknown>;
      assert.equal(parsed['taskUUID'], up);
      assert.ok(!('webhookURL' in parsed) && !('uploadEndpoint' in parsed));
    }),
    { seed: SEED, numRuns: 1000 },
  );
});

guardOpenHandles();
