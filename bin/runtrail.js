#!/usr/bin/env node
// Entry point installed as the `runtrail` command; the compiled CLI lives in dist/.
// libuv's thread pool (file writes, fsync, sharp's encoders) defaults to 4 threads; media
// fsyncs and image encoding share it, so give it more room unless the operator chose a size.
// It must be set before the pool's first use, hence the dynamic import below.
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('../dist/src/cli/main.js');
