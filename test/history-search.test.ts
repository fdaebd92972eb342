// History text search over a large ledger, end to end: tasks bulk-loaded through the ledger's
// import path, the server started on them as the README says, eight searches over HTTP at once
// while /healthz is asked back to back. Reading and unpacking every stored request for each
// search (what the search did before its index) blocks the server for seconds here; with the
// index each search answers quickly and /healthz never waits long. Bounds leave room for a
// loaded machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bulkLoad } from './helpers/bulk-ledger.js';
import { startServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const TASKS = 30_000;
const WORDS = ['lighthouse', 'fox', 'mountain', 'river', 'portrait', 'neon', 'city', 'forest', 'ocean', 'robot'];
const prompt = (i: number) =>
  i % 1000 === 7 ? `a needle in the haystack ${i}` : `a ${WORDS[i % WORDS.length]} at dusk ${i}`;

test(
  `text searches over ${TASKS} tasks answer in bounded time, exactly, while /healthz keeps answering`,
  { timeout: 300_000 },
  async () => {
    const { server, cleanup } = await bulkLoad(await startServer(), TASKS, prompt);
    try {
      const prompts = Array.from({ length: TASKS }, (_, i) => prompt(i).toLowerCase());
      const expected = (needle: string) =>
        prompts.filter((p) => new RegExp(`(^|[^a-z0-9])${needle.toLowerCase()}`).test(p)).length;
      const searches = [
        'needle',
        'NEEDLE in the',
        'lighthouse',
        'dusk 12',
        'robot at dusk',
        'Fox',
        'ighthouse',
        'haystack 2',
      ];

      let probing = true;
      const healthz: number[] = [];
      const probe = (async () => {
        while (probing) {
          const t0 = performance.now();
          const res = await fetch(`${server.url}/healthz`);
          assert.equal(res.status, 200);
          await res.text();
          healthz.push(performance.now() - t0);
        }
      })();

      const answers = await Promise.all(
        searches.map(async (text) => {
          const t0 = performance.now();
          const res = await fetch(`${server.url}/api/tasks?limit=100&text=${encodeURIComponent(text)}`, {
            headers: { authorization: `Bearer ${server.key}` },
          });
          const body = (await res.json()) as { data: { prompt: string }[]; counts: { total: number } };
          return { text, status: res.status, body, ms: performance.now() - t0 };
        }),
      );
      probing = false;
      await probe;

      for (const a of answers) {
        assert.equal(a.status, 200, a.text);
        const want = expected(a.text);
        assert.equal(a.body.counts.total, want, `${a.text}: counted`);
        assert.equal(a.body.data.length, Math.min(100, want), `${a.text}: listed`);
        for (const t of a.body.data)
          assert.ok(t.prompt.toLowerCase().includes(a.text.toLowerCase()), `${a.text} listed "${t.prompt}"`);
        assert.ok(a.ms < 5_000, `searching "${a.text}" took ${a.ms.toFixed(0)} ms`);
      }
      assert.ok(expected('needle') === 30 && expected('lighthouse') === 3000, 'the data set is as intended');
      // What this catches is a search that holds the event loop (several seconds each before the
      // index). A healthy server was seen at 1 015 ms on the 2-core CI machine, with PostgreSQL
      // and a second test file on the same cores: the bound sits above that, far below a stall.
      const worst = Math.max(...healthz);
      assert.ok(
        healthz.length > 0 && worst < 2_500,
        `/healthz waited up to ${worst.toFixed(0)} ms during the searches`,
      );
    } finally {
      await cleanup();
    }
  },
);

guardOpenHandles();
