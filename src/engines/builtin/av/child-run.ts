// Runs an external program (ffmpeg, espeak-ng) as a child process with hard bounds: a deadline
// after which it is killed, a cap on what it may print, and its stdin fed with backpressure. The
// promise settles only once the process has exited, so a caller that awaited it never leaves a
// child behind; children still running when their thread ends are killed on the way out.

import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Writable } from 'node:stream';

export interface ChildRunOptions {
  /** Bytes for stdin, or a writer that feeds it (and must honour backpressure via `writeAll`). */
  stdin?: Uint8Array | ((stdin: Writable) => Promise<void>);
  /** Killed (SIGKILL) after this long. */
  timeoutMs: number;
  /** Killed when stdout grows past this many bytes. */
  maxStdoutBytes: number;
}

export interface ChildResult {
  stdout: Buffer;
  /** The last few KB of stderr (programs explain their failures there). */
  stderr: string;
}

/** Why a child run failed; `stderr` holds the end of what it printed. */
export class ChildRunError extends Error {
  constructor(
    readonly reason: 'spawn' | 'timeout' | 'output' | 'exit',
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ChildRunError';
  }
}

const STDERR_KEEP = 8192;
const live = new Set<ChildProcess>();
let exitHookSet = false;

/** Children of this thread still running (tests and /healthz read it through the ops). */
export function liveChildren(): number {
  return live.size;
}

export function runChild(file: string, args: readonly string[], options: ChildRunOptions): Promise<ChildResult> {
  if (!exitHookSet) {
    exitHookSet = true;
    // A thread or process ending mid-run takes its children with it.
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  return new Promise<ChildResult>((resolve, reject) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(file, [...args], { windowsHide: true });
    } catch (err) {
      reject(new ChildRunError('spawn', `could not start ${file}: ${(err as Error).message}`, ''));
      return;
    }
    live.add(child);
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let failure: ChildRunError | undefined;
    const fail = (reason: ChildRunError['reason'], message: string) => {
      failure ??= new ChildRunError(reason, message, stderr);
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail('timeout', `${file} did not finish within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > options.maxStdoutBytes)
        fail('output', `${file} printed more than ${options.maxStdoutBytes} bytes`);
      else out.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_KEEP);
    });
    // A child that exits before reading all of its input closes the pipe: that is its exit
    // status's story to tell, not an error of ours.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => fail('spawn', `could not start ${file}: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (failure) {
        reject(new ChildRunError(failure.reason, failure.message, stderr));
        return;
      }
      if (code !== 0) {
        reject(new ChildRunError('exit', `${file} exited with ${code ?? signal}`, stderr));
        return;
      }
      resolve({ stdout: Buffer.concat(out), stderr });
    });

    const input = options.stdin;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'function') {
      input(child.stdin).then(
        () => child.stdin.end(),
        (err: unknown) => fail('exit', `feeding ${file} failed: ${(err as Error).message}`),
      );
    } else child.stdin.end(input);
  });
}

/** Writes one chunk, waiting while the pipe is full; rejects once the pipe is closed. */
export function writeAll(stream: Writable, chunk: Uint8Array): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.reject(new Error('the pipe is closed'));
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the pipe closed'));
    const onError = (err: Error) => done(err);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}
