// What the per-key and per-organization limit suites share: setting limits through the CLI as an
// operator does, and keeping a per-minute window whole for one step of a test.

import { cliOk } from './cli.js';
import type { TestServer } from './server.js';

/** `runtrail keys limit …` against the server's data folder; its output. */
export function setLimit(server: TestServer, args: string[]): Promise<string> {
  return cliOk(['keys', 'limit', ...args], { dataDir: server.dataDir });
}

/** Waits out the end of a minute when close to it, so a per-minute window holds the whole test step. */
export async function awayFromMinuteEdge(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
}
