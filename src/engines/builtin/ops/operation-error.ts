// The error an operation throws for input its model cannot take (too large, unreadable, wrong
// kind). It survives the trip out of a worker thread as plain data; the task module turns it into
// the protocol error with `code` and `parameter`. Anything else an operation throws is internal.

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
