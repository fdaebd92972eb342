// The bounds on external programs (av/child-run.ts): a child past its deadline or printing past
// its cap is killed and reported, and none is left running once the promise settles.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildRunError, liveChildren, runChild } from '../src/engines/builtin/av/child-run.js';
import { ffmpeg } from '../src/engines/builtin/av/ffmpeg-binary.js';

function ffmpegPath(): string {
  const f = ffmpeg();
  assert.ok(f.ok, 'an ffmpeg is installed');
  return f.path;
}

test('a child that outlives its deadline is killed (SIGKILL) and reported as a timeout', async () => {
  // ffmpeg reading a stdin that never ends.
  const err = await runChild(ffmpegPath(), ['-hide_banner', '-f', 's16le', '-i', 'pipe:0', '-f', 'null', '-'], {
    stdin: () => new Promise<void>(() => undefined),
    timeoutMs: 300,
    maxStdoutBytes: 1024,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ChildRunError);
  assert.equal(err.reason, 'timeout');
  assert.equal(liveChildren(), 0);
});

test('a child printing past its output cap is killed', async () => {
  const err = await runChild(
    ffmpegPath(),
    ['-hide_banner', '-f', 'lavfi', '-i', 'anoisesrc=d=60', '-f', 's16le', 'pipe:1'],
    { timeoutMs: 30_000, maxStdoutBytes: 64 * 1024 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ChildRunError);
  assert.equal(err.reason, 'output');
  assert.equal(liveChildren(), 0);
});

test('a failing child reports its exit status and the end of its stderr', async () => {
  const err = await runChild(ffmpegPath(), ['-hide_banner', '-i', '/nonexistent/input.wav', '-f', 'null', '-'], {
    timeoutMs: 30_000,
    maxStdoutBytes: 1024,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ChildRunError);
  assert.equal(err.reason, 'exit');
  assert.match(err.stderr, /No such file/);
});
