// Crash soak (R1, docs/performance.md): 10 000 tasks in flight over REST and pipelined WebSocket connections
// (sync and async imageInference 64×64, some slow or failing, and modelSearch), SIGKILL of the
// server at a seeded moment between 20 % and 80 % of the sends, restart on the same data folder,
// the rest sent to the restarted server, then every task recalled with getTaskDetails (100 per
// request): acknowledged ones must be found (lost), come back as the client received them
// (corrupt) and be finished (stuck). Tasks cut off by the kill are reported by where they ended.
// The run itself is test/helpers/crash-soak.ts, shared with test/crash-inflight.test.ts.
// Usage: npm run bench:crash [-- --tasks 10000 --seed N --senders 1000 --connections 8]
// (senders default to a tenth of the tasks, at most 1 000)
// (RUNTRAIL_TEST_BACKEND=postgres runs it on PostgreSQL.) Exits 1 when anything was lost,
// corrupt or stuck.

import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatCrashSoak, runCrashSoak } from '../test/helpers/crash-soak.js';
import { REPO_ROOT } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    senders: { type: 'string' },
    connections: { type: 'string', default: '8' },
    'settle-seconds': { type: 'string', default: '300' },
  },
});
const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
console.log(`crash soak: ${values.tasks} tasks, seed ${seed} (repeat with --seed ${seed})`);

const result = await runCrashSoak({
  tasks: Number(values.tasks),
  seed,
  ...(values.senders === undefined ? {} : { senders: Number(values.senders) }),
  wsConnections: Number(values.connections),
  settleMs: Number(values['settle-seconds']) * 1000,
  log: (line) => console.log(`  ${line}`),
});
console.log(formatCrashSoak(result));

mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(
  join(REPO_ROOT, 'bench/results/crash-soak.json'),
  JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + '\n',
);
const { lost, corrupt, stuck } = result.totals;
const failed =
  lost +
    corrupt +
    stuck +
    result.unansweredAfterRestart +
    result.defects.unexpected.length +
    result.frameViolations.length >
  0;
console.log(failed ? 'FAILED: see above' : 'ok: 0 lost, 0 corrupt, 0 stuck');
process.exit(failed ? 1 : 0);
