// Per-task retention: how long the tasks of one request (REST header X-Runtrail-Retention) or of
// one WebSocket connection (the authentication's runtrailRetention field) are kept, when the
// caller wants them gone sooner than the organization's retention. It travels beside the tasks,
// never in them, so the task objects stay exactly as Runware defines them. The organization's
// retention (and the server default) still applies: a task goes at whichever ends first.

import { ProtocolError } from './errors.js';

export const RETENTION_HEADER = 'x-runtrail-retention';
export const RETENTION_FIELD = 'runtrailRetention';

/** The longest retention a task may ask for: ten years (a longer one is a mistake, not a wish). */
export const MAX_TASK_RETENTION_DAYS = 3650;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const RETENTION = /^([1-9][0-9]{0,9})([smhd])$/;

/**
 * The retention in ms asked for by `value` (`7d`, `12h`, `30m`, `90s`), undefined when none was
 * given; an invalidRetention error naming `parameter` when it is not one.
 */
export function taskRetentionMs(value: unknown, parameter: string): number | undefined {
  if (value === undefined) return undefined;
  const refuse = (reason: string) =>
    new ProtocolError('invalidRetention', { parameter, reason }, { parameter, type: 'string' });
  if (typeof value !== 'string') throw refuse('it must be a string');
  const match = RETENTION.exec(value.trim());
  if (!match) throw refuse(`"${value.length > 24 ? `${value.slice(0, 24)}…` : value}" is not a retention`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms > MAX_TASK_RETENTION_DAYS * UNIT_MS.d) throw refuse(`it is longer than ${MAX_TASK_RETENTION_DAYS} days`);
  return ms;
}
