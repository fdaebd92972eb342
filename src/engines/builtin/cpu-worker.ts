// The entry point of each pool thread (piscina loads it): imports `./ops/<name>.js` by the
// operation's name, once per thread, and runs it. An OperationError comes back as a value,
// since a thrown error crossing the thread boundary keeps only its message; anything else is
// thrown and reaches the main thread as an internal failure.

import type { MessagePort } from 'node:worker_threads';
import { OperationError } from './ops/operation-error.js';
import type { Availability, OperationContext } from './operation.js';

export interface WorkerJob {
  operation: string;
  input: unknown;
  /** Present when the caller wants progress reports. */
  progress?: MessagePort;
}

export type WorkerReply =
  { ok: true; output: unknown } | { ok: false; code: string; message: string; parameter?: string };

interface LoadedOperation {
  run(input: unknown, context?: OperationContext): Promise<unknown>;
  availability(): Availability;
}

const OPERATION_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const loaded = new Map<string, Promise<LoadedOperation>>();

export function loadOperation(name: string): Promise<LoadedOperation> {
  if (!OPERATION_NAME.test(name)) return Promise.reject(new Error(`not an operation name: ${JSON.stringify(name)}`));
  let module = loaded.get(name);
  if (!module) {
    module = import(`./ops/${name}.js`) as Promise<LoadedOperation>;
    loaded.set(name, module);
    module.catch(() => loaded.delete(name));
  }
  return module;
}

export default async function runJob(job: WorkerJob): Promise<WorkerReply> {
  const operation = await loadOperation(job.operation);
  const port = job.progress;
  const context: OperationContext = { progress: (percent) => port?.postMessage(percent) };
  try {
    return { ok: true, output: await operation.run(job.input, context) };
  } catch (err) {
    if (err instanceof OperationError) {
      return {
        ok: false,
        code: err.code,
        message: err.message,
        ...(err.parameter !== undefined ? { parameter: err.parameter } : {}),
      };
    }
    throw err;
  } finally {
    port?.close();
  }
}
