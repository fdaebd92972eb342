// Types every operation shares. An operation is one file `ops/<name>.ts` exporting `run` and
// `availability`; its input and output types come from its entry in OpTable, so callers of the
// pool are checked against the op they name.

import type { OpTable } from './ops/op-table.js';

// `& string`: keys of an interface may be numbers or symbols as far as keyof knows; ours are names.
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents
export type OperationName = keyof OpTable & string;
export type OperationInput<K extends OperationName> = OpTable[K] extends { input: infer I } ? I : never;
export type OperationOutput<K extends OperationName> = OpTable[K] extends { output: infer O } ? O : never;

/** `detail` says what would run (which program, which version) for /healthz and the start log. */
export type Availability = { ready: true; detail?: string } | { ready: false; reason: string; detail?: string };

/** What an operation may use besides its input; the pool provides it in worker threads and tests may pass their own. */
export interface OperationContext {
  /** Reports how far the operation is (0–100); shown by getResponse while a queued task runs. */
  progress(percent: number): void;
}

export interface OperationModule<K extends OperationName> {
  run(input: OperationInput<K>, context?: OperationContext): Promise<OperationOutput<K>>;
  availability(): Availability;
}

/** Image encodings an operation may be asked for. */
export type EncodedFormat = 'png' | 'jpg' | 'webp';

/** An encoded image leaving an operation. */
export interface EncodedImage {
  image: Uint8Array;
  format: EncodedFormat;
  width: number;
  height: number;
}

/** A Buffer over the same bytes (a Buffer sent to a worker arrives as a plain Uint8Array). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
