// Not part of `npm run bench`: a CPU profile of one recording path, for docs/performance.md.
// node dist/bench/profile-path.js gateway|modelSearch|imageInference|ws-modelSearch [seconds] [connections]
// Starts the server with --cpu-prof (and for `gateway` the mock upstream), drives it (autocannon
// over REST; for ws-modelSearch the P2 pipeline over WebSocket, `connections` being the window),
// stops it so the profile is written, and prints where the server's time went: self time by
// function and by source file, and the inclusive time of runtrail's own functions, as shares of
// the sampled time (docs/performance.md, "Profiles").
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './bench-server.js';
import { imageTask, pipeline, searchTask, startBaseline } from './common.js';
import { gatewayTask } from './gateway.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [path = 'gateway', secondsArg = '10', connectionsArg = '16'] = process.argv.slice(2);
const profDir = mkdtempSync(join(tmpdir(), 'runtrail-prof-'));
const mock = path === 'gateway' ? await startBaseline('mock-upstream.js') : undefined;
const server = await startServer({
  nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  env: mock
    ? { RUNTRAIL_UPSTREAM_URL: `${mock.url}/v1`, RUNTRAIL_UPSTREAM_API_KEY: 'k', RUNTRAIL_ARCHIVE_OUTPUTS: 'none' }
    : {},
});
if (path === 'ws-modelSearch') {
  const r = await pipeline(`${server.url.replace(/^http/, 'ws')}/v1`, server.key, searchTask, {
    seconds: Number(secondsArg),
    window: Number(connectionsArg),
  });
  console.log(`${path}: ${r.perSecond.toFixed(0)} tasks/s, errors ${r.errors}`);
} else {
  const body = path === 'gateway' ? gatewayTask : path === 'imageInference' ? imageTask : searchTask;
  let i = 0;
  const result = await autocannon({
    url: `${server.url}/v1`,
    method: 'POST',
    connections: Number(connectionsArg),
    duration: Number(secondsArg),
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: `[${body(randomUUID(), i++)}]` }) }],
  });
  console.log(
    `${path}: ${result.requests.average.toFixed(0)} req/s, non-2xx ${result.non2xx}, p50 ${result.latency.p50} ms`,
  );
}
await server.stop();
mock?.stop();

const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const n of profile.nodes) {
  const t = self.get(n.id) ?? 0;
  const f = n.callFrame;
  const where = f.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/') || '(native)';
  const fn = `${f.functionName || '(anon)'} ${where}:${f.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + t);
  const fileKey = where.replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, 'node_modules/$1');
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + t);
}
const top = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`profile ${join(profDir, file)}; sampled ${(total / 1e6).toFixed(1)} s`);
console.log('--- by file ---\n' + top(byFile, 30));
console.log('--- by function (self) ---\n' + top(byFn, 40));

// Inclusive time of runtrail's own functions: each sample counts once for every distinct function
// of ours on its stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^file:\/\/.*?\/dist\//, '')}:${n.callFrame.lineNumber + 1}`;
const inclusive = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = nodeById.get(at)!;
    if (!n.callFrame.url.includes('/dist/src/')) continue;
    const key = label(n);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
});
console.log('--- runtrail functions (inclusive) ---\n' + top(inclusive, 60));
