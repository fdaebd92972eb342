// A guard against suites that leave handles open (a server not stopped, a socket not closed, a
// timer not cleared, a child process not reaped): such a suite would keep its test process alive
// or leak into the next test. Called once in a suite file, it notes what is open before the
// suite's first test and fails the suite, naming the kinds left over, when more is open after its
// last one. Handles that are closing get up to 10 s to finish first (a socket to a server that was
// just stopped can take several seconds to close). node:test runs a file's
// top-level after() hooks in the order they were registered, so call it after the file's own
// top-level after() hooks (at the end of the file is always right).

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';

function counts(): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  return byKind;
}

function leftOver(baseline: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [kind, n] of counts()) {
    const more = n - (baseline.get(kind) ?? 0);
    if (more > 0) extra.push(`${more} × ${kind}`);
  }
  return extra;
}

export function guardOpenHandles(options: { settleMs?: number } = {}): void {
  let baseline = new Map<string, number>();
  before(() => {
    baseline = counts();
  });
  after(async () => {
    const until = Date.now() + (options.settleMs ?? 10_000);
    let extra = leftOver(baseline);
    while (extra.length > 0 && Date.now() < until) {
      // (This timer has fired by the time handles are counted again.)
      await new Promise((resolve) => setTimeout(resolve, 50));
      extra = leftOver(baseline);
    }
    assert.deepEqual(extra, [], `the suite left handles open: ${extra.join(', ')}${socketsOpen()}`);
  });
}

/** Where the sockets still open lead, to tell which client or server left them. */
function socketsOpen(): string {
  // process._getActiveHandles is undocumented, so it is read defensively and only to explain a failure.
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const sockets = handles.flatMap((h) =>
    h instanceof Socket
      ? [
          `${h.localAddress ?? '?'}:${h.localPort ?? '?'} -> ${h.remoteAddress ?? '?'}:${h.remotePort ?? '?'}${h.connecting ? ' (connecting)' : ''}`,
        ]
      : [],
  );
  return sockets.length > 0 ? ` (sockets: ${sockets.join('; ')})` : '';
}
