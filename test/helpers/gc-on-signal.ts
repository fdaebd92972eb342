// Preloaded into a test server by suites that measure its memory
// (NODE_OPTIONS="--expose-gc --import <this file, compiled>"; see gcOnSignalEnv): SIGUSR2 runs a
// full garbage collection and reports the heap on stderr. Memory "after things quiet down" can
// then be read without waiting on V8's heuristics, and without any hook in production code.

const collect = (globalThis as { gc?: () => void }).gc;

process.on('SIGUSR2', () => {
  collect?.();
  const { heapUsed, rss } = process.memoryUsage();
  process.stderr.write(`gc-on-signal heapUsed=${heapUsed} rss=${rss}\n`);
});
