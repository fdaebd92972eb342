// taskType -> module. Adding a task type means adding its file and one line here.

import { getTaskDetails } from './get-task-details.js';
import { imageInference } from './image-inference.js';
import { imageUpload } from './image-upload.js';
import type { TaskModule } from './task-module.js';

const MODULES: readonly TaskModule[] = [imageInference, imageUpload, getTaskDetails];

const BY_TYPE = new Map<string, TaskModule>();
for (const m of MODULES) {
  BY_TYPE.set(m.taskType, m);
  if (m.kind === 'recorded') for (const alias of m.aliases ?? []) BY_TYPE.set(alias, m);
}

export function findTaskModule(taskType: string): TaskModule | undefined {
  return BY_TYPE.get(taskType);
}

/** Every taskType this server answers, for the unsupportedTaskType message. */
export function supportedTaskTypes(): string[] {
  return [...BY_TYPE.keys(), 'authentication', 'ping'].sort();
}
