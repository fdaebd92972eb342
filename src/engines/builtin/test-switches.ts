// Prompt switches of the built-in engine, for tests and demonstrations of async delivery:
// `[slow:MS]` makes result i finish after MS×(i+1) ms (reporting progress on the way), `[fail]`
// fails every result and `[fail:I]` fails result I (0-based). Prompts without them are unaffected.

import { ProtocolError } from '../../protocol/errors.js';

export interface TestSwitches {
  slowMs: number;
  failAll: boolean;
  failIndexes: ReadonlySet<number>;
}

const MAX_SLOW_MS = 60_000;
const PROGRESS_STEPS = 4;

export function readTestSwitches(prompt: string): TestSwitches | undefined {
  if (!prompt.includes('[')) return undefined;
  const slow = /\[slow:(\d{1,6})\]/.exec(prompt);
  const failIndexes = new Set([...prompt.matchAll(/\[fail:(\d{1,3})\]/g)].map((m) => Number(m[1])));
  const failAll = prompt.includes('[fail]');
  if (!slow && !failAll && failIndexes.size === 0) return undefined;
  return { slowMs: Math.min(Number(slow?.[1] ?? 0), MAX_SLOW_MS), failAll, failIndexes };
}

/** Runs `render` for result `index` as the switches say. */
export async function withTestSwitches<T>(
  switches: TestSwitches,
  index: number,
  onProgress: ((index: number, percent: number) => void) | undefined,
  render: () => Promise<T>,
): Promise<T> {
  const total = switches.slowMs * (index + 1);
  for (let step = 1; step <= PROGRESS_STEPS && total > 0; step++) {
    await new Promise((r) => setTimeout(r, total / PROGRESS_STEPS));
    if (step < PROGRESS_STEPS) onProgress?.(index, (100 * step) / PROGRESS_STEPS);
  }
  if (switches.failAll || switches.failIndexes.has(index)) {
    throw new ProtocolError('internalServerError', {
      what: `Result ${index} (the prompt asked for its failure with [fail])`,
    });
  }
  return render();
}
