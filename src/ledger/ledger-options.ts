// How a backend's ledger stores texts (RUNTRAIL_OUT_OF_LINE_BYTES, docs/performance.md "Large bodies").

/** Request and response texts above this many UTF-8 bytes are stored out of line. */
export const DEFAULT_OUT_OF_LINE_BYTES = 64 * 1024;

export interface LedgerOptions {
  /** Texts above this many UTF-8 bytes go out of line (out-of-line.ts); default DEFAULT_OUT_OF_LINE_BYTES. */
  outOfLineBytes?: number;
}
