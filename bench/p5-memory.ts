// P5: server RSS while --tasks modelSearch tasks run through it over WebSocket (at start, every
// tenth, at the end), and P4 again on the ledger that run wrote. Part of `npm run bench` (p5).

import { rmSync } from 'node:fs';
import { startServer } from './bench-server.js';
import { liveStorage } from './p3-p4-recall-storage.js';
import { log, pipeline, progress, rssMiB, searchTask, type BenchOptions } from './common.js';

export async function p5(o: BenchOptions) {
  log(`P5: server RSS while ${o.tasks} modelSearch tasks run over WebSocket (at most ${o.p5Seconds} s)`);
  const server = await startServer();
  const pid = server.process.pid!;
  const samples: { tasks: number; rssMiB: number }[] = [{ tasks: 0, rssMiB: rssMiB(pid) }];
  const started = performance.now();
  let nextSample = o.tasks / 10;
  try {
    const result = await pipeline(server.url.replace(/^http/, 'ws') + '/v1', server.key, searchTask, {
      seconds: o.p5Seconds,
      window: o.window,
      maxTasks: o.tasks,
      onProgress: (answered) => {
        if (answered >= nextSample) {
          samples.push({ tasks: answered, rssMiB: rssMiB(pid) });
          nextSample += o.tasks / 10;
        }
        if (answered % 10000 === 0) progress('  tasks', Math.min(answered, o.tasks), o.tasks, started);
      },
    });
    process.stderr.write('\n');
    samples.push({ tasks: result.answered, rssMiB: rssMiB(pid) });
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const firstTenth = samples.find((s) => s.tasks > 0)?.rssMiB ?? NaN;
    await server.stop({ keepData: true });
    const storage = await liveStorage(server.dataDir);
    return {
      tasks: result.answered,
      perSecond: result.perSecond,
      errors: result.errors,
      finalMiB: samples.at(-1)!.rssMiB,
      peakMiB: peak,
      growthAfterFirstTenthMiB: samples.at(-1)!.rssMiB - firstTenth,
      samples,
      storage,
    };
  } finally {
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}
