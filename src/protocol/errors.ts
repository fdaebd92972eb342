// The one list of protocol error codes runtrail emits, with their HTTP status, and the error
// type that carries them. Validation codes built from a parameter name (`invalidWidth`,
// `missingPositivePrompt`) follow the `invalid<Param>` / `missing<Param>` patterns and are 400.

export const DOCUMENTATION_URL = 'https://runware.ai/docs';

/** Fixed codes: code -> HTTP status. docs/protocol.md lists the same set (a test checks both ways). */
export const ERROR_STATUS = {
  invalidJSON: 400,
  invalidPayload: 400,
  payloadTooLarge: 413,
  payloadTooDeep: 400,
  tooManyTasks: 400,
  requestTimeout: 408,
  headersTooLarge: 431,
  missingApiKey: 401,
  invalidApiKey: 401,
  missingTaskType: 400,
  unsupportedTaskType: 400,
  missingTaskUUID: 400,
  invalidTaskUUID: 400,
  conflictTaskUUID: 400,
  taskNotFound: 404,
  unsupportedParameter: 400,
  unsupportedModel: 400,
  downloadFailed: 400,
  notFound: 404,
  methodNotAllowed: 405,
  internalServerError: 500,
  serviceUnavailable: 503,
  engineUnavailable: 503,
  queueCapacityExceeded: 429,
  syncTimeout: 504,
  taskInterrupted: 500,
  timeoutProvider: 504,
  providerRateLimitExceeded: 429,
  providerError: 502,
  providerUnavailable: 503,
  unrecognizedResponse: 502,
  // Per-model rules (src/validation): a value the named model does not take. Counts
  // (`invalidReferenceImagesCount`, …) and ranges follow the invalid<Param> pattern.
  unsupportedDimensions: 400,
  unsupportedDuration: 400,
  unsupportedFps: 400,
  unsupportedOutputFormat: 400,
} as const;

export type FixedErrorCode = keyof typeof ERROR_STATUS;

/** The JSON error object of the protocol, in the key order runtrail writes it. */
export interface ErrorObject {
  code: string;
  message: string;
  parameter?: string;
  type?: string;
  min?: number;
  max?: number;
  multiplier?: number;
  allowedValues?: readonly unknown[];
  documentation?: string;
  taskType?: string;
  taskUUID?: string;
}

export function statusForCode(code: string): number {
  const fixed = (ERROR_STATUS as Record<string, number>)[code];
  if (fixed !== undefined) return fixed;
  if (/^(invalid|missing|unsupported)[A-Z]/.test(code)) return 400;
  return 500;
}

/** A protocol error raised anywhere below the transports; turned into an ErrorObject at the edge. */
export class ProtocolError extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    readonly details: Omit<ErrorObject, 'code' | 'message'> = {},
  ) {
    super(message);
    this.name = 'ProtocolError';
    this.status = statusForCode(code);
  }

  toObject(context: { taskType?: string; taskUUID?: string } = {}): ErrorObject {
    return errorObject(this.code, this.message, { ...this.details, ...definedOnly(context) });
  }
}

/**
 * The caller's serviceUnavailable for storage that failed under a write (ledger or media): what
 * the caller reads is `message`; the underlying error stays attached as `cause`, for the log only.
 */
export function storageUnavailable(message: string, cause: unknown): ProtocolError {
  const problem = new ProtocolError('serviceUnavailable', message);
  (problem as Error & { cause?: unknown }).cause = cause;
  return problem;
}

/** Builds an error object with keys in a stable order, leaving out absent fields. */
export function errorObject(
  code: string,
  message: string,
  details: Omit<ErrorObject, 'code' | 'message'> = {},
): ErrorObject {
  const out: ErrorObject = { code, message: bounded(message, MAX_MESSAGE_CHARS) };
  if (details.parameter !== undefined) out.parameter = bounded(details.parameter, MAX_ECHO_CHARS);
  if (details.type !== undefined) out.type = details.type;
  if (details.min !== undefined) out.min = details.min;
  if (details.max !== undefined) out.max = details.max;
  if (details.multiplier !== undefined) out.multiplier = details.multiplier;
  if (details.allowedValues !== undefined) out.allowedValues = details.allowedValues;
  out.documentation = details.documentation ?? DOCUMENTATION_URL;
  if (details.taskType !== undefined) out.taskType = bounded(details.taskType, MAX_ECHO_CHARS);
  if (details.taskUUID !== undefined) out.taskUUID = bounded(details.taskUUID, MAX_ECHO_CHARS);
  return out;
}

/**
 * Error objects echo what the caller sent (its taskType, taskUUID, a parameter's name, values in
 * the message); a megabyte-long value must not come back whole (nor be recorded whole in the
 * task's response), so each is cut to a bound, marked with '…'. Real values are far shorter.
 */
export const MAX_ECHO_CHARS = 256;
export const MAX_MESSAGE_CHARS = 1_024;

function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Never split a surrogate pair (the cut would leave a lone surrogate).
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

function definedOnly<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function upperFirst(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}
