// What a task type module provides, and what it may use. Each task type is one file in this
// folder; registry.ts lists them.

import type { Logger } from 'pino';
import type { EngineRouter } from '../engines/engine.js';
import type { MediaRecord, Organization, TaskLedger, TaskQueue } from '../ledger/types.js';
import type { ImageInputResolver } from '../media/image-input.js';
import type { MediaStore } from '../media/media-store.js';
import type { PriceTable } from './price-table.js';
import type { SerializedOutcome } from '../protocol/envelope.js';
import { ProtocolError, type ErrorObject } from '../protocol/errors.js';
import type { ProgressBoard } from './progress-board.js';

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
  /**
   * Set when the task runs from the queue: call it as each result is ready (index = its place
   * among the task's results) so it is recorded, visible to getResponse and delivered at once.
   * A module that never calls it has its results recorded when it returns.
   */
  onResult?: (index: number, result: ItemResult) => Promise<void>;
  /** Set when the task runs from the queue: the engine's progress (0–100) on result `index`. */
  onProgress?: (index: number, percent: number) => void;
}

export type ItemResult = { item: object; media: MediaRecord[] } | { error: ErrorObject };

/** The error object for one result that failed: its protocol error, or a logged internal one. */
export function resultError(err: unknown, call: TaskCall<unknown>): ErrorObject {
  const context = { taskType: call.taskType, taskUUID: call.taskUUID };
  if (err instanceof ProtocolError) return err.toObject(context);
  call.services.log.error({ err, ...context }, 'a result of the task failed unexpectedly');
  return new ProtocolError('internalServerError', 'Producing this result failed because of an internal error on the server.').toObject(context);
}

export interface TaskResult {
  items: object[];
  errors: ErrorObject[];
  /** Total cost in USD of what the task produced (recorded whether or not the caller asked). */
  cost: number | null;
  engine: string | null;
  media: MediaRecord[];
}

/** A task type that is recorded in the ledger and runs work. */
export interface RecordedTaskModule<P = unknown> {
  kind: 'recorded';
  taskType: string;
  aliases?: readonly string[];
  /** Validates the parsed task object; throws ProtocolError. */
  validate(value: unknown): P;
  /** The model the task names, recorded for search and pricing. */
  modelOf(params: P): string | null;
  run(call: TaskCall<P>): Promise<TaskResult>;
}

/** A task type that reads the ledger about another task and is never recorded itself. */
export interface LookupTaskModule {
  kind: 'lookup';
  taskType: string;
  lookup(call: { org: Organization; taskUUID: string; taskType: string; services: TaskServices }): Promise<SerializedOutcome>;
}

export type TaskModule = RecordedTaskModule<any> | LookupTaskModule; // eslint-disable-line @typescript-eslint/no-explicit-any
