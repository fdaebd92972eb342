// How an archived output is shown with its task (the history API, the explorer, `runtrail tasks
// show` and export): where it came from, what became of it, and the URL of runtrail's own copy.

import type { OutputArchiveRecord } from '../ledger/archive-types.js';
import type { MediaRecord } from '../ledger/types.js';

export interface ArchivedOutputView {
  itemIndex: number;
  field: string;
  form: OutputArchiveRecord['form'];
  /** The upstream URL it came from; null for base64 and data URI outputs. */
  upstreamURL: string | null;
  state: OutputArchiveRecord['state'];
  attempts: number;
  /** Why it is not archived (failed, skipped), or the last failed attempt's reason while pending. */
  error: string | null;
  /** runtrail's copy (GET /media/…), once archived and while its media row exists. */
  archivedURL: string | null;
  mediaUUID: string | null;
  contentType: string | null;
  bytes: number | null;
  sha256: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export function archivedOutputViews(
  records: readonly OutputArchiveRecord[],
  media: readonly MediaRecord[],
  urlOf: (m: MediaRecord) => string,
): ArchivedOutputView[] {
  const byUUID = new Map(media.map((m) => [m.mediaUUID.toLowerCase(), m]));
  return records.map((r) => {
    const copy = r.mediaUUID === null ? undefined : byUUID.get(r.mediaUUID.toLowerCase());
    return {
      itemIndex: r.itemIndex,
      field: r.field,
      form: r.form,
      upstreamURL: r.sourceUrl,
      state: r.state,
      attempts: r.attempts,
      error: r.error,
      archivedURL: copy ? urlOf(copy) : null,
      mediaUUID: r.mediaUUID,
      contentType: r.contentType,
      bytes: r.bytes,
      sha256: r.sha256,
      createdAt: new Date(r.createdAt).toISOString(),
      finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
    };
  });
}

/** One line of `runtrail tasks show` for an output: where it came from and what was kept. */
export function archiveLine(r: OutputArchiveRecord): string {
  const from = r.sourceUrl ?? `(${r.form})`;
  const what =
    r.state === 'archived'
      ? `archived ${r.mediaUUID ?? ''} ${r.contentType ?? ''} ${r.bytes ?? 0} bytes sha256:${r.sha256 ?? ''}`
      : `${r.state}${r.error === null ? '' : `: ${r.error}`}`;
  return `#${r.itemIndex} ${r.field} ${from}  ${what}`;
}
