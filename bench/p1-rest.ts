// P1: REST imageInference 64×64 against a bare Fastify server answering fixed bytes
// (bench/bare-server.ts), and against one doing the same engine work without recording
// (bench/bare-engine-server.ts); REST modelSearch beside them. Part of `npm run bench` (p1).

import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { startServer } from './bench-server.js';
import { imageTask, log, median, searchTask, startBaseline, type BenchOptions } from './common.js';
import { answerTemplate } from './durable-floor.js';

/** One autocannon run of `--seconds` at `--connections` against POST /v1 (shared with bench/chain.ts). */
export async function restLoad(
  o: BenchOptions,
  url: string,
  key: string,
  makeTask: (taskUUID: string, i: number) => string = imageTask,
): Promise<{ rps: number; p99: number; non2xx: number; total: number }> {
  let i = 0;
  const result = await autocannon({
    url: `${url}/v1`,
    method: 'POST',
    connections: o.connections,
    duration: o.seconds,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: `[${makeTask(randomUUID(), i++)}]` }) }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, total: result.requests.total };
}

/**
 * P1 as the issue defines it (runtrail against fixed bytes), and two figures that say where the
 * gap is: against a bare server doing the same image work without recording (what recording
 * costs), and REST modelSearch, a task with no engine work, against the fixed bytes.
 */
export async function p1(o: BenchOptions) {
  log('P1: REST imageInference 64x64 vs bare Fastify (fixed bytes) and vs the same engine work without recording');
  const server = await startServer();
  const baseline = await startBaseline('bare-server.js');
  const engineBaseline = await startBaseline('bare-engine-server.js');
  // The floor of the modelSearch row: bare Fastify recording each request and answer durably.
  const durableBaseline = await startBaseline('bare-durable-server.js', [await answerTemplate(server, searchTask)]);
  const durableBase: number[] = [];
  // And of the recorded imageInference: the same engine work with request and answer made durable.
  const durableEngineBaseline = await startBaseline('bare-engine-server.js', ['--durable']);
  const durableEngineBase: number[] = [];
  const rt: number[] = [];
  const base: number[] = [];
  const engineBase: number[] = [];
  const search: number[] = [];
  let non2xx = 0;
  try {
    await restLoad(o, server.url, server.key);
    await restLoad(o, engineBaseline.url, 'x');
    for (let r = 0; r < o.runs; r++) {
      base.push((await restLoad(o, baseline.url, 'x')).rps);
      engineBase.push((await restLoad(o, engineBaseline.url, 'x')).rps);
      durableEngineBase.push((await restLoad(o, durableEngineBaseline.url, 'x')).rps);
      const got = await restLoad(o, server.url, server.key);
      const searched = await restLoad(o, server.url, server.key, searchTask);
      durableBase.push((await restLoad(o, durableBaseline.url, 'x', searchTask)).rps);
      rt.push(got.rps);
      search.push(searched.rps);
      non2xx += got.non2xx + searched.non2xx;
      log(
        `  run ${r + 1}: runtrail ${got.rps.toFixed(0)}/s, bare ${base.at(-1)!.toFixed(0)}/s, bare+engine ${engineBase.at(-1)!.toFixed(0)}/s, runtrail modelSearch ${searched.rps.toFixed(0)}/s, bare durable ${durableBase.at(-1)!.toFixed(0)}/s, bare+engine durable ${durableEngineBase.at(-1)!.toFixed(0)}/s`,
      );
    }
  } finally {
    baseline.stop();
    engineBaseline.stop();
    durableBaseline.stop();
    durableEngineBaseline.stop();
    await server.stop();
  }
  return {
    runtrail: median(rt),
    baseline: median(base),
    ratio: median(rt) / median(base),
    engineBaseline: median(engineBase),
    engineRatio: median(rt) / median(engineBase),
    modelSearch: median(search),
    modelSearchRatio: median(search) / median(base),
    durableBaseline: median(durableBase),
    durableFloorRatio: median(durableBase) / median(base),
    modelSearchToFloor: median(search) / median(durableBase),
    durableEngineBaseline: median(durableEngineBase),
    durableEngineFloorRatio: median(durableEngineBase) / median(engineBase),
    engineToFloor: median(rt) / median(durableEngineBase),
    non2xx,
    samples: { rt, base, engineBase, search, durableBase, durableEngineBase },
  };
}
