// P2: WebSocket pipelined tasks/s (imageInference, and ledger-only modelSearch) against a bare ws
// server (bench/bare-ws-server.ts). Part of `npm run bench` (p2).

import { startServer } from './bench-server.js';
import { imageTask, log, median, pipeline, searchTask, startBaseline, type BenchOptions } from './common.js';
import { answerTemplate } from './durable-floor.js';

export async function p2(o: BenchOptions) {
  log('P2: WebSocket pipelined tasks/s vs bare ws server');
  const server = await startServer();
  const baseline = await startBaseline('bare-ws-server.js');
  // The floor: the same bare server recording each frame's tasks durably before answering.
  const durableBaseline = await startBaseline('bare-ws-server.js', [
    '--durable',
    await answerTemplate(server, searchTask),
  ]);
  const durableBase: number[] = [];
  const ws = (url: string) => url.replace(/^http/, 'ws') + '/v1';
  const image: number[] = [];
  const search: number[] = [];
  const base: number[] = [];
  let errors = 0;
  try {
    await pipeline(ws(server.url), server.key, searchTask, { seconds: 1, window: o.window });
    for (let r = 0; r < o.runs; r++) {
      base.push(
        (await pipeline(ws(baseline.url), null, searchTask, { seconds: o.seconds, window: o.window })).perSecond,
      );
      durableBase.push(
        (await pipeline(ws(durableBaseline.url), null, searchTask, { seconds: o.seconds, window: o.window })).perSecond,
      );
      const s = await pipeline(ws(server.url), server.key, searchTask, { seconds: o.seconds, window: o.window });
      const im = await pipeline(ws(server.url), server.key, imageTask, { seconds: o.seconds, window: o.window });
      search.push(s.perSecond);
      image.push(im.perSecond);
      errors += s.errors + im.errors;
      log(
        `  run ${r + 1}: modelSearch ${s.perSecond.toFixed(0)}/s, imageInference ${im.perSecond.toFixed(0)}/s, baseline ${base.at(-1)!.toFixed(0)}/s, durable baseline ${durableBase.at(-1)!.toFixed(0)}/s`,
      );
    }
  } finally {
    baseline.stop();
    durableBaseline.stop();
    await server.stop();
  }
  return {
    imageInference: median(image),
    modelSearch: median(search),
    baseline: median(base),
    imageRatio: median(image) / median(base),
    searchRatio: median(search) / median(base),
    durableBaseline: median(durableBase),
    durableFloorRatio: median(durableBase) / median(base),
    searchToFloor: median(search) / median(durableBase),
    errors,
    samples: { image, search, base, durableBase },
  };
}
