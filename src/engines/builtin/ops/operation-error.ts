// The one error an operation throws on purpose: input the model cannot take (too large,
// unreadable, wrong kind) or a model that could not load. `code` is a protocol error code; the
// engine turns it into the caller's error. Any other exception is an internal error.
export class OperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}
