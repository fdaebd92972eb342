// What goes over a WebSocket besides task answers' contents: the close codes, the per-socket
// limits, the pong frame, and how a message's elements are grouped and echoed in errors.
// docs/websocket.md documents the codes and limits.

import { taskEnvelope, type SerializedOutcome } from '../../protocol/envelope.js';
import type { RequestElement } from '../../protocol/request-reader.js';

export const PONG_FRAME = '{"data":[{"taskType":"ping","pong":true}]}';
/** How long shutdown waits for running tasks before closing sockets. */
export const SHUTDOWN_WAIT_MS = 30_000;

/**
 * Close codes: 1000 idle, 1001 shutdown, 1008 repeated failed authentication or too many messages
 * before authenticating, 4000 session taken over, 4001 the client does not read its frames.
 */
export const CLOSE_IDLE = 1000;
export const CLOSE_SHUTDOWN = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_SESSION_MOVED = 4000;
export const CLOSE_NOT_READING = 4001;

/** Failed authentications an unauthenticated socket may make; the last one's answer is followed by a close. */
export const MAX_AUTH_FAILURES = 3;
/** Messages a socket may send before it authenticates (pings and refused tasks cost the server too). */
export const MAX_UNAUTHENTICATED_MESSAGES = 10;
/** Messages received but not yet read, and task groups running, above which a socket is not read. */
export const MAX_QUEUED_MESSAGES = 16;
export const MAX_TASKS_IN_FLIGHT = 1_000;

/**
 * The frame for one task's outcome: its ledger envelope, so the frame's items are exactly the
 * recorded ones. Never an empty `data` or `errors` array (an empty outcome sends nothing).
 */
export function frameOf(outcome: SerializedOutcome): string | undefined {
  if (outcome.data.length === 0 && outcome.errors.length === 0) return undefined;
  return taskEnvelope(outcome);
}

/** Tasks sharing a taskUUID go to the dispatcher together (it answers them with conflictTaskUUID). */
export function groupByTaskUUID(elements: readonly RequestElement[]): RequestElement[][] {
  const groups: RequestElement[][] = [];
  const byUuid = new Map<string, RequestElement[]>();
  for (const element of elements) {
    const uuid = fieldOf(element, 'taskUUID')?.toLowerCase();
    const group = uuid !== undefined ? byUuid.get(uuid) : undefined;
    if (group) {
      group.push(element);
      continue;
    }
    const fresh = [element];
    if (uuid !== undefined) byUuid.set(uuid, fresh);
    groups.push(fresh);
  }
  return groups;
}

export function fieldOf(element: RequestElement, name: 'taskType' | 'taskUUID'): string | undefined {
  const v = element.value as Record<string, unknown> | null;
  const field = typeof v === 'object' && v !== null ? v[name] : undefined;
  return typeof field === 'string' ? field : undefined;
}

/** The taskType and taskUUID an error about this element echoes (those that are strings). */
export function contextOf(element: RequestElement): { taskType?: string; taskUUID?: string } {
  return { taskType: fieldOf(element, 'taskType'), taskUUID: fieldOf(element, 'taskUUID') };
}
