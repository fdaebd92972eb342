// History text search (part `search` of bench/all.ts): `GET /api/tasks?text=…` latency over a
// ledger of --search-tasks tasks (bulk-loaded through the ledger's import path), and /healthz
// latency beside it: on an idle server (the baseline), and while eight searches run at once.

import { bulkLoad } from './bulk-load.js';
import { startServer, type BenchServer } from './bench-server.js';

const WORDS = ['lighthouse', 'fox', 'mountain', 'river', 'portrait', 'neon', 'city', 'forest', 'ocean', 'robot'];
const prompt = (i: number) =>
  i % 1000 === 7 ? `a needle in the haystack ${i}` : `a ${WORDS[i % WORDS.length]} at dusk ${i}`;
/** A rare word, a common word, a word start, several words (checked exactly), a miss. */
const SEARCHES = [
  'needle',
  'lighthouse',
  'light',
  'robot at dusk',
  'dusk 12',
  'NEEDLE in the',
  'haystack 2',
  'nothing',
];

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

async function timed(url: string, key?: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return performance.now() - t0;
}

const searchUrl = (server: BenchServer, text: string) => `${server.url}/api/tasks?text=${encodeURIComponent(text)}`;

export interface SearchResult {
  tasks: number;
  loadSeconds: number;
  searchP50Ms: number;
  searchP99Ms: number;
  perSearchP50Ms: Record<string, number>;
  healthzAloneP50Ms: number;
  healthzAloneP99Ms: number;
  healthzDuringP99Ms: number;
  healthzDuringMaxMs: number;
  healthzRatio: number;
}

export async function historySearch(
  tasks: number,
  runs: number,
  log: (s: string) => void,
  progress: (done: number) => void,
): Promise<SearchResult> {
  log(`search: GET /api/tasks?text=… over ${tasks} tasks, and /healthz beside it`);
  const started = performance.now();
  const { server, cleanup } = await bulkLoad(await startServer(), tasks, prompt, progress);
  const loadSeconds = (performance.now() - started) / 1000;
  try {
    for (const text of SEARCHES) await timed(searchUrl(server, text), server.key); // warm the page cache
    const healthAlone: number[] = [];
    for (let i = 0; i < 300; i++) healthAlone.push(await timed(`${server.url}/healthz`));
    const all: number[] = [];
    const perSearch: Record<string, number[]> = {};
    for (let r = 0; r < runs * 3; r++) {
      for (const text of SEARCHES) {
        const ms = await timed(searchUrl(server, text), server.key);
        all.push(ms);
        (perSearch[text] ??= []).push(ms);
      }
    }
    // Eight searches at once, runs times, with /healthz asked back to back meanwhile.
    const during: number[] = [];
    for (let r = 0; r < runs; r++) {
      let probing = true;
      const probe = (async () => {
        while (probing) during.push(await timed(`${server.url}/healthz`));
      })();
      await Promise.all(SEARCHES.map((text) => timed(searchUrl(server, text), server.key)));
      probing = false;
      await probe;
    }
    const perSearchP50Ms = Object.fromEntries(Object.entries(perSearch).map(([k, v]) => [k, quantile(v, 0.5)]));
    log(
      `  per search p50 ms: ${Object.entries(perSearchP50Ms)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    return {
      tasks,
      loadSeconds,
      searchP50Ms: quantile(all, 0.5),
      searchP99Ms: quantile(all, 0.99),
      perSearchP50Ms,
      healthzAloneP50Ms: quantile(healthAlone, 0.5),
      healthzAloneP99Ms: quantile(healthAlone, 0.99),
      healthzDuringP99Ms: quantile(during, 0.99),
      healthzDuringMaxMs: Math.max(...during),
      healthzRatio: quantile(during, 0.99) / quantile(healthAlone, 0.99),
    };
  } finally {
    await cleanup();
  }
}
