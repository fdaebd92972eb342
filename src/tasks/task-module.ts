// What a task type module provides, and what it may use. Each task type is one file in this
// folder; registry.ts lists them. A module owns the protocol (parameters, defaults, price, result
// items); engines own the work (operations); task-runner.ts runs modules and records results.

import type { Logger } from 'pino';
import type { EngineRouter, TextDelta } from '../engines/engine.js';
import type { MediaRecord, Organization, TaskLedger, TaskQueue } from '../ledger/types.js';
import type { ImageInputResolver } from '../media/image-input.js';
import type { MediaStore } from '../media/media-store.js';
import type { PriceTable } from './price-table.js';
import type { SerializedOutcome } from '../protocol/envelope.js';
import { ProtocolError, type ErrorObject } from '../protocol/errors.js';
import type { ProgressBoard } from './progress-board.js';
import type { DeliveryMethod } from './delivery-options.js';

export interface TaskServices {
  ledger: TaskLedger;
  queue: TaskQueue;
  progress: ProgressBoard;
  media: MediaStore;
  imageInputs: ImageInputResolver;
  engines: EngineRouter;
  prices: PriceTable;
  log: Logger;
}

/** One task as a module sees it: validated parameters plus who asked. */
export interface TaskCall<P> {
  params: P;
  org: Organization;
  /** The taskUUID and taskType exactly as the caller sent them (echoed in every item). */
  taskUUID: string;
  taskType: string;
  services: TaskServices;
  /** The recorded request text, `[<task object source>]`, for modules that forward it as sent. */
  requestText?: string;
  /** Set when the task runs from the queue: the engine's progress (0–100) on result `index`. */
  onProgress?: (index: number, percent: number) => void;
  /** Set for `deliveryMethod: "stream"` (modules with `streams`): where text goes as it comes. */
  stream?: TextStreamSink;
}

/** The transport end of a streamed task (transport/text-stream.ts): deltas out, and whether the client is still there. */
export interface TextStreamSink {
  delta(index: number, delta: TextDelta): void;
  /** Aborts when the client went away: the module cancels the engine's work. */
  signal: AbortSignal;
}

/** One result of a task: an item with the files it produced and what it costs, or an error. */
export type ItemResult = { item: object; media: MediaRecord[]; cost: number } | { error: ErrorObject };

/**
 * What a module's run gives back: the engine that works on it, and one entry per result in
 * result order. A pending result is recorded (async tasks) the moment it settles; a rejected one
 * becomes that result's error, so one failing image fails only itself.
 */
export interface TaskRun {
  engine: string | null;
  results: readonly (ItemResult | Promise<ItemResult>)[];
  /**
   * Writes the run started that must be durable before the task's answer is (an upstream's audit
   * records): awaited together with the completion, so both join one group commit.
   */
  durableWith?: Promise<unknown>;
}

/** The error object for one result that failed: its protocol error, or a logged internal one. */
export function resultError(err: unknown, call: TaskCall<unknown>): ErrorObject {
  const context = { taskType: call.taskType, taskUUID: call.taskUUID };
  if (err instanceof ProtocolError) return err.toObject(context);
  call.services.log.error({ err, ...context }, 'a result of the task failed unexpectedly');
  return new ProtocolError('internalServerError', { what: 'Producing this result' }).toObject(context);
}

/** A default price: USD per produced result for models matching `model` (`*` wildcards). RUNTRAIL_PRICES_FILE rules come first. */
export interface DefaultPrice {
  model: string;
  perItem: number;
}

/** A task type that is recorded in the ledger and runs work. */
export interface RecordedTaskModule<P = unknown> {
  kind: 'recorded';
  taskType: string;
  aliases?: readonly string[];
  /** Every parameter it accepts, dotted (`inputs.seedImage`), for the docs table of what each engine honours. */
  parameters?: readonly string[];
  /** Validates the parsed task object; throws ProtocolError. */
  validate(value: unknown): P;
  /** The model the task names, recorded for search and pricing. */
  modelOf(params: P): string | null;
  /**
   * The delivery methods it takes, when not `sync` and `async`: `['async']` for a task type Runware
   * runs only asynchronously (videoInference; without deliveryMethod it is queued), and `stream`
   * among them for one that streams (textInference; run() then reports text through call.stream).
   * Another method is refused with invalidDeliveryMethod.
   */
  deliveries?: readonly DeliveryMethod[];
  /** Prices per produced result when the operator's price file says nothing (first match wins). */
  prices?: readonly DefaultPrice[];
  /**
   * The task's work is instant and has no effect outside this process (modelSearch reads the
   * engines' catalogues): a sync run of it is answered first and recorded after, request and
   * response in one write (ledger.recordInstantTask), instead of one write before the work and
   * one after. Nothing is acknowledged before that write is durable, and a crash before it leaves
   * nothing behind to recover (no upstream call, no file), as if the task had not arrived.
   */
  instant?: true;
  /** Starts the task: throws ProtocolError for the whole task, or returns its results as they come. */
  run(call: TaskCall<P>): Promise<TaskRun>;
}

/** A task type that reads the ledger about another task and is never recorded itself. */
export interface LookupTaskModule {
  kind: 'lookup';
  taskType: string;
  lookup(call: {
    org: Organization;
    taskUUID: string;
    taskType: string;
    services: TaskServices;
  }): Promise<SerializedOutcome>;
}

export type TaskModule = RecordedTaskModule<any> | LookupTaskModule; // eslint-disable-line @typescript-eslint/no-explicit-any
