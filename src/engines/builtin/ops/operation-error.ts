// An operation's refusal of its input (too large, unreadable, the wrong kind): the task module
// turns it into the protocol error with this code and parameter. Anything else an operation
// throws is an internal error.
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
