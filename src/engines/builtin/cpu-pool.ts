// The worker-thread pool that runs operations off the main thread (piscina), so a long render or
// model run never stalls the event loop that serves every other organization. The threads start
// together on the first operation and then stay (each keeps the models it loaded); `close()`
// ends them all.
// The queue is bounded: past `threads + maxQueue` operations waiting or running, a new one is
// refused at once with queueCapacityExceeded (HTTP 429, retryable), as Runware answers when its
// queues are full, rather than piling up work and memory without limit. The default bound sits
// above what heavy but legitimate load queues (thousands of small tasks in flight).

// On glibc Linux sharp must be loaded by the main thread before any worker thread loads it, so
// that its shared libraries stay mapped until every thread has ended (sharp's install notes).
import 'sharp';
import { MessageChannel } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ProtocolError, type ErrorCode } from '../../protocol/errors.js';
import type { OperationInput, OperationName, OperationOutput } from './operation.js';
import type { WorkerJob, WorkerReply } from './cpu-worker.js';

export interface CpuPoolOptions {
  /** Threads at most (RUNTRAIL_ENGINE_THREADS). */
  threads: number;
  /** Operations that may wait for a thread (RUNTRAIL_ENGINE_QUEUE); more are refused. */
  maxQueue: number;
  /** How much lower than the main thread pool threads run (Linux nice, 0–19; RUNTRAIL_ENGINE_NICE). */
  niceness?: number;
  /** The thread entry point; cpu-worker.js unless a test brings its own. */
  workerFile?: URL;
}

export interface RunOptions {
  /** Progress (0–100) the operation reports. */
  onProgress?: (percent: number) => void;
}

export interface CpuPoolStats {
  threads: { started: number; max: number };
  /** Operations running or waiting for a thread, and the bound on them. */
  pending: number;
  capacity: number;
  completed: number;
}

/** One thread per core: the main thread mostly waits on sockets and disk, so the kernel wakes it ahead of busy pool threads. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export const DEFAULT_NICENESS = 0;

export const DEFAULT_POOL_OPTIONS: CpuPoolOptions = { threads: defaultThreads(), maxQueue: 10_000 };

export class CpuPool {
  private piscina: Piscina<WorkerJob, WorkerReply> | undefined;
  private pending = 0;
  private closed = false;

  constructor(readonly options: CpuPoolOptions = DEFAULT_POOL_OPTIONS) {}

  /** Runs `operation` on a pool thread. Rejects with ProtocolError for a full queue or an OperationError; with Error for internal failures. */
  async run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options: RunOptions = {},
  ): Promise<OperationOutput<K>> {
    if (this.closed)
      throw new ProtocolError('serviceUnavailable', { reason: 'it is shutting down and no longer starts engine work' });
    if (this.pending >= this.options.threads + this.options.maxQueue) {
      throw new ProtocolError('queueCapacityExceeded', { pending: this.pending });
    }
    this.pending++;
    const channel = options.onProgress ? new MessageChannel() : undefined;
    try {
      if (channel) channel.port1.on('message', (percent: number) => options.onProgress!(percent));
      const job: WorkerJob = { operation, input, ...(channel ? { progress: channel.port2 } : {}) };
      const reply = await this.threads().run(job, channel ? { transferList: [channel.port2] } : {});
      if (!reply.ok)
        throw ProtocolError.relayed(
          reply.code as ErrorCode,
          reply.message,
          reply.parameter !== undefined ? { parameter: reply.parameter } : {},
        );
      return reply.output as OperationOutput<K>;
    } finally {
      this.pending--;
      channel?.port1.close();
    }
  }

  stats(): CpuPoolStats {
    return {
      threads: { started: this.piscina?.threads.length ?? 0, max: this.options.threads },
      pending: this.pending,
      capacity: this.options.threads + this.options.maxQueue,
      completed: this.piscina?.completed ?? 0,
    };
  }

  /**
   * Ends every thread once its running operation is done; operations still waiting for a thread
   * are refused. The server drains its tasks within the shutdown grace before calling this.
   */
  async close(): Promise<void> {
    this.closed = true;
    const piscina = this.piscina;
    this.piscina = undefined;
    await piscina?.close({ force: true });
  }

  private threads(): Piscina<WorkerJob, WorkerReply> {
    this.piscina ??= new Piscina<WorkerJob, WorkerReply>({
      filename: (this.options.workerFile ?? new URL('./cpu-worker.js', import.meta.url)).href,
      name: 'default',
      // Every thread starts with the first operation (the pool itself is made only then): a
      // thread spawned later, mid-task, would take its start-up time out of one result and let
      // the next one finish first.
      minThreads: this.options.threads,
      maxThreads: this.options.threads,
      // Idle threads stay: each holds the models it loaded.
      idleTimeout: Infinity,
      // Optionally lower the pool threads' priority (Linux nice is per thread). Off by default:
      // the kernel already wakes the mostly-waiting event loop ahead of busy threads, and on a
      // machine shared with other processes niced threads starve behind all of them.
      niceIncrement: this.options.niceness ?? DEFAULT_NICENESS,
      maxQueue: Infinity,
    });
    return this.piscina;
  }
}
