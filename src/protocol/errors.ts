// The one list of protocol error codes runtrail emits, with their HTTP status and the wording of
// their messages, and the error type that carries them. Validation codes built from a parameter
// name (`invalidWidth`, `missingPositivePrompt`) follow the `invalid<Param>` / `missing<Param>`
// families and are 400.

export const DOCUMENTATION_URL = 'https://runware.ai/docs';

/**
 * The catalogue: every fixed code with its HTTP status and the template of its message.
 * `{name}` is a required parameter; `{name?}` an optional one, written with a leading space when
 * given (for a sentence that only some call sites add). A template too long for one line is a list
 * of parts, read joined. docs/protocol.md lists the same codes, statuses and templates (a test
 * checks both ways). Adding a code is one line here and one row there.
 */
export const ERRORS = {
  invalidJSON: { status: 400, message: 'The request body is not valid JSON: {reason}.' },
  invalidPayload: { status: 400, message: 'The request is not valid: {reason}.' },
  payloadTooLarge: { status: 413, message: 'The {what} is larger than {max} bytes.' },
  payloadTooDeep: { status: 400, message: 'The request nests arrays or objects deeper than {max} levels.' },
  tooManyTasks: { status: 400, message: 'A {what} may hold at most {max} tasks.' },
  requestTimeout: { status: 408, message: 'The request did not arrive completely within {ms} ms.' },
  headersTooLarge: { status: 431, message: 'The request headers are larger than this server accepts ({limit}).' },
  missingApiKey: { status: 401, message: 'No API key was given: {how}.' },
  invalidApiKey: { status: 401, message: 'Invalid API key: {reason}.' },
  invalidRetention: {
    status: 400,
    message: "Invalid value for '{parameter}': {reason}. Give a whole number and a unit: 90s, 30m, 12h or 7d.",
  },
  missingTaskType: { status: 400, message: "Missing required parameter 'taskType'." },
  unsupportedTaskType: {
    status: 400,
    message: "Task type '{taskType}' is not supported by this server. Supported task types: {supported}.",
  },
  missingTaskUUID: { status: 400, message: "Missing required parameter 'taskUUID'." },
  invalidTaskUUID: { status: 400, message: "Invalid value for 'taskUUID' parameter. {reason}" },
  conflictTaskUUID: { status: 400, message: 'This taskUUID {conflict}.' },
  taskNotFound: {
    status: 404,
    message: [
      "No task was found for this 'taskUUID'. It may never have been run, may no longer be retained, or may belong ",
      'to another organization.',
    ],
  },
  unsupportedParameter: { status: 400, message: '{feature} is not supported by this server.{hint?}' },
  unsupportedModel: { status: 400, message: 'No engine on this server runs {what}.{hint?}' },
  unsupportedPreProcessorType: {
    status: 400,
    message: "The preprocessor '{preprocessor}' needs a model this server does not have.{hint?}",
  },
  downloadFailed: { status: 400, message: "Could not download the image given in '{parameter}': {reason}." },
  notFound: { status: 404, message: 'Nothing is served at {target}.{hint?}' },
  methodNotAllowed: { status: 405, message: 'This method is not allowed here. {allowed}' },
  internalServerError: { status: 500, message: '{what} failed because of an internal error on the server.' },
  serviceUnavailable: { status: 503, message: 'The server cannot serve this now: {reason}.' },
  engineUnavailable: { status: 503, message: "The {engine} engine cannot run '{operation}' now: {reason}" },
  queueCapacityExceeded: {
    status: 429,
    message: "The engine's queue is full ({pending} operations running or waiting). Try again shortly.",
  },
  syncTimeout: {
    status: 504,
    message: [
      "The task did not finish within this server's {seconds} s limit for synchronous tasks. It keeps running: ",
      'ask for its result with getResponse (or getTaskDetails) and this taskUUID, or send long tasks with ',
      'deliveryMethod "async".',
    ],
  },
  taskInterrupted: { status: 500, message: 'The server stopped {when}. {outcome}' },
  timeoutProvider: { status: 504, message: '{subject} timed out: {reason}.{said?}' },
  providerRateLimitExceeded: {
    status: 429,
    message: '{subject} is over its capacity (HTTP 429); try again later.{said?}',
  },
  providerError: { status: 502, message: '{subject} failed: {reason}.{said?}' },
  providerAuthenticationFailed: {
    status: 502,
    message:
      "{subject} refused the credentials of your organization's upstream account '{account}' (HTTP {status}); {reason}.",
  },
  // Budgets and rate limits (src/limits): refused before the task runs anywhere; never recorded.
  rateLimitExceeded: {
    status: 429,
    message: 'This {scope} may start at most {limit} tasks per {window}; try again in {seconds} s.',
  },
  quotaExceeded: {
    status: 402,
    message:
      "This {scope}'s spend budget of {limit} per {period} is used up ({spent} spent); it renews in {seconds} s.",
  },
  providerUnavailable: { status: 503, message: '{subject} is unavailable: {reason}.' },
  unrecognizedResponse: { status: 502, message: "{subject}'s reply {what}, so its results could not be read." },
  streamInterrupted: { status: 502, message: "{subject}'s stream {how}, after {chars} characters of text." },
  clientDisconnected: {
    status: 499,
    message: 'The client disconnected before the task ended; its work was cancelled.',
  },
  unsupportedVoice: {
    status: 400,
    message: [
      "Voice '{voice}' is not one of this server's eSpeak NG voices: a language ({examples}, …), ",
      'a language+variant, or a variant alone (see docs/engines.md).',
    ],
  },
  // Per-model rules (src/validation): a value the named model does not take.
  unsupportedDimensions: { status: 400, message: 'Unsupported dimensions {size} for model {model}. {reason}' },
  unsupportedDuration: { status: 400, message: "Invalid value for '{parameter}' parameter. {reason}" },
  unsupportedFps: { status: 400, message: "Invalid value for '{parameter}' parameter. {reason}" },
  unsupportedOutputFormat: { status: 400, message: "Invalid value for '{parameter}' parameter. {reason}" },
  // The ledger's integrity features (docs/ledger-integrity.md).
  legalHold: {
    status: 409,
    message: '{what} is under a legal hold since {since} ({reason}): nothing is deleted until the hold is lifted.',
  },
} as const satisfies Record<string, { status: number; message: Template }>;

/**
 * The parameter families: a code built from the parameter's name (`invalidWidth`,
 * `missingPositivePrompt`, `invalidReferenceImagesCount`), always 400. A fixed code of the same
 * shape (`invalidApiKey`) takes its own entry above.
 */
export const PARAMETER_ERRORS = {
  invalid: { status: 400, message: "Invalid value for '{parameter}' parameter. {reason}" },
  // An array with too few or too many elements, worded as Runware words it (its answer to five
  // reference images): the parameter's own name, and the limits in the sentence.
  count: { status: 400, message: "Invalid number of elements for '{name}' parameter. {reason}" },
  missing: { status: 400, message: "Missing required parameter '{parameter}'.{hint?}" },
} as const;

export type FixedErrorCode = keyof typeof ERRORS;
export type InvalidParameterCode = `invalid${string}`;
/** `invalid<Param>Count`: an array with the wrong number of elements. */
export type InvalidCountCode = `invalid${string}Count`;
export type MissingParameterCode = `missing${string}`;
/** Every code runtrail raises: a fixed one, or one of a parameter family (a typo fails to compile). */
export type ErrorCode = FixedErrorCode | InvalidParameterCode | MissingParameterCode;

/** A message template, or the parts of a long one. */
type Template = string | readonly string[];
type Joined<T> = T extends string
  ? T
  : T extends readonly [infer Head extends string, ...infer Rest]
    ? `${Head}${Joined<Rest>}`
    : '';

/** The message template of a code. */
export type TemplateOf<C extends ErrorCode> = C extends FixedErrorCode
  ? Joined<(typeof ERRORS)[C]['message']>
  : C extends InvalidCountCode
    ? (typeof PARAMETER_ERRORS)['count']['message']
    : C extends InvalidParameterCode
      ? (typeof PARAMETER_ERRORS)['invalid']['message']
      : (typeof PARAMETER_ERRORS)['missing']['message'];

type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
type RequiredName<P> = P extends `${string}?` ? never : P;
type OptionalName<P> = P extends `${infer N}?` ? N : never;
type Value = string | number;
/** The parameters a template asks for: its `{name}`s required, its `{name?}`s optional. */
export type MessageParams<S extends string> = { [K in RequiredName<Placeholders<S>>]: Value } & {
  [K in OptionalName<Placeholders<S>>]?: Value | undefined;
};

type Details = Omit<ErrorObject, 'code' | 'message'>;
/** What follows the code: its parameters (optional when the template has no required one) and the error's fields. */
export type ErrorArgs<C extends ErrorCode> = [RequiredName<Placeholders<TemplateOf<C>>>] extends [never]
  ? [params?: MessageParams<TemplateOf<C>>, details?: Details]
  : [params: MessageParams<TemplateOf<C>>, details?: Details];

/** `invalid<Name>` for a parameter's name (its last path segment). */
export function invalidCode(name: string): InvalidParameterCode {
  return `invalid${upperFirst(name)}`;
}

/** `invalid<Name>Count` for an array parameter's name. */
export function invalidCountCode(name: string): InvalidCountCode {
  return `invalid${upperFirst(name)}Count`;
}

/** `missing<Name>` for a parameter's name. */
export function missingCode(name: string): MissingParameterCode {
  return `missing${upperFirst(name)}`;
}

function isFixed(code: string): code is FixedErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** The template a code's message is written from. */
export function templateOf(code: ErrorCode): string {
  if (isFixed(code)) return joined(ERRORS[code].message);
  if (/^invalid.+Count$/.test(code)) return PARAMETER_ERRORS.count.message;
  return code.startsWith('invalid') || code.startsWith('unsupported')
    ? PARAMETER_ERRORS.invalid.message
    : PARAMETER_ERRORS.missing.message;
}

function joined(template: Template): string {
  return typeof template === 'string' ? template : template.join('');
}

/** The catalogue's entry for a fixed code, its template joined (for the docs test and tools). */
export function catalogueEntry(code: FixedErrorCode): { status: number; message: string } {
  return { status: ERRORS[code].status, message: joined(ERRORS[code].message) };
}

/** Writes a template with its parameters (a parameter's value is never read as a template). */
export function renderMessage(template: string, params: Readonly<Record<string, Value | undefined>>): string {
  return template.replace(/\{(\w+)(\??)\}/g, (_whole, name: string, optional: string) => {
    const value = params[name];
    if (value === undefined) return optional ? '' : `{${name}}`;
    return optional ? ` ${String(value)}` : String(value);
  });
}

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
  /** Seconds until a refused task may be sent again (rateLimitExceeded, quotaExceeded); REST also sends Retry-After. */
  retryAfter?: number;
  taskType?: string;
  taskUUID?: string;
}

/** The HTTP status of any code, including codes relayed from elsewhere (an upstream's). */
export function statusForCode(code: string): number {
  if (isFixed(code)) return ERRORS[code].status;
  if (/^(invalid|missing|unsupported)[A-Z]/.test(code)) return 400;
  return 500;
}

/**
 * A protocol error raised anywhere below the transports; turned into an ErrorObject at the edge.
 * Its message comes from the catalogue: `new ProtocolError('tooManyTasks', { what: 'request', max: 100 })`.
 */
export class ProtocolError<C extends ErrorCode = ErrorCode> extends Error {
  readonly status: number;
  readonly code: C;
  readonly details: Details;
  constructor(code: C, ...[params, details]: ErrorArgs<C>) {
    super(renderMessage(templateOf(code), params ?? {}));
    this.name = 'ProtocolError';
    this.code = code;
    this.details = details ?? {};
    this.status = statusForCode(code);
  }

  /**
   * An error whose message was written elsewhere, passed on unchanged: a built-in engine
   * operation's refusal (its OperationError, relayed from the worker thread; operations know no
   * protocol wording), or a catalogue message whose parameter name is being corrected.
   */
  static relayed(code: ErrorCode, message: string, details: Details = {}): ProtocolError {
    const problem = new ProtocolError(code, ...([undefined, details] as unknown as ErrorArgs<ErrorCode>));
    problem.message = message;
    return problem;
  }

  toObject(context: { taskType?: string; taskUUID?: string } = {}): ErrorObject {
    return errorObject(this.code, this.message, { ...this.details, ...definedOnly(context) });
  }
}

/**
 * `err instanceof ProtocolError` narrows to ProtocolError<any> (the class's code parameter cannot be
 * inferred from an instance check); this guard narrows to the union of every code.
 */
export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}

/**
 * The caller's serviceUnavailable for storage that failed under a write (ledger or media): what
 * the caller reads is `reason`; the underlying error stays attached as `cause`, for the log only.
 */
export function storageUnavailable(reason: string, cause: unknown): ProtocolError {
  const problem = new ProtocolError('serviceUnavailable', { reason });
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
  if (details.retryAfter !== undefined) out.retryAfter = details.retryAfter;
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
