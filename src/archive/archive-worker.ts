// Fetches the outputs the archive queue holds into the media store, within the organization of
// the task they belong to: a URL through the outbound guard (bounded in time and size), base64 and
// data URIs decoded. Each copy is checked to be the kind of file it claims to be (src/archive/
// media-sniff.ts), hashed (sha256) and recorded with its media row in one write. A failure that
// another attempt could mend (timeouts, 5xx, 429, storage down) is retried with backoff up to the
// attempt limit; anything else ends the output as failed, with the reason, at once. Pending rows
// live in the database, so what a crash interrupts is fetched again after the restart.

import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { ArchiveRetry, OutputArchiveStore, PendingOutputArchive } from '../ledger/archive-types.js';
import { CONTENT_TYPES, type MediaFormat, type MediaStore } from '../media/media-store.js';
import { LeasedQueueRunner } from '../queues/leased-queue-runner.js';
import { retryDelay } from '../webhooks/delivery-worker.js';
import type { OutboundTargetGuard } from '../webhooks/outbound-target.js';
import { archivedFormat, OutputRefused } from './media-sniff.js';
import { fetchOutput, OutputFetchError, type FetchedOutput } from './output-fetch.js';
import { kindOf } from './output-fields.js';

export interface ArchiveWorkerOptions {
  /** Attempts per output before it is recorded failed (RUNTRAIL_ARCHIVE_ATTEMPTS). */
  maxAttempts: number;
  /** One fetch's deadline, redirects included (RUNTRAIL_ARCHIVE_TIMEOUT_MS). */
  timeoutMs: number;
  /** First retry delay, doubling (RUNTRAIL_ARCHIVE_BACKOFF_MS), up to a minute. */
  backoffMs: number;
  /** The server's bound on one output (RUNTRAIL_ARCHIVE_MAX_BYTES): over it is a failure, under it a policy's skip. */
  serverMaxBytes: number;
  /** Outputs fetched at once: each holds its bytes in memory until stored. */
  concurrency?: number;
  pollMs?: number;
}

export interface ArchiveWorkerDeps {
  store: OutputArchiveStore;
  media: MediaStore;
  guard: OutboundTargetGuard;
  log: Logger;
}

const BACKOFF_MAX_MS = 60_000;

export class ArchiveWorker extends LeasedQueueRunner<PendingOutputArchive> {
  private readonly owner = `archive-${randomUUID()}`;

  constructor(
    private readonly deps: ArchiveWorkerDeps,
    private readonly options: ArchiveWorkerOptions,
  ) {
    super({
      concurrency: options.concurrency ?? 4,
      pollMs: options.pollMs ?? 1000,
      queue: deps.store,
      log: deps.log,
      failures: { run: 'recording an archive attempt failed', lease: 'looking for outputs to archive failed' },
    });
  }

  /** Before start: outputs a dead process left mid-fetch are due again (where the backend can tell). */
  recover(): Promise<number> {
    return this.deps.store.releaseAbandoned();
  }

  protected lease(now: number, count: number): Promise<PendingOutputArchive[]> {
    // A lease outlasts the longest fetch, then another replica may take the output over.
    return this.deps.store.claimDue(this.owner, now, count, this.options.timeoutMs + 30_000);
  }

  protected run(output: PendingOutputArchive): Promise<void> {
    return this.archive(output);
  }

  protected logFields(output: PendingOutputArchive): Record<string, unknown> {
    return { taskUUID: output.taskUUID };
  }

  private async archive(output: PendingOutputArchive): Promise<void> {
    const attempt = output.attempts + 1;
    const { store, media } = this.deps;
    try {
      const fetched = await this.bytesOf(output);
      const format = archivedFormat(fetched.data, fetched.contentType, kindOf(output.field));
      const size = await pixelSize(fetched.data, format);
      const record = await media.save(output.orgId, output.taskUUID, { data: fetched.data, format, ...size });
      const sha256 = createHash('sha256').update(fetched.data).digest('hex');
      const kept = await store.archived(
        output.id,
        attempt,
        { media: record, contentType: CONTENT_TYPES[format], sha256 },
        Date.now(),
      );
      // The task was deleted while its output was fetched: no row names the file, so it goes too.
      if (!kept) await media.remove(record).catch(() => undefined);
    } catch (err) {
      const { reason, next } = this.afterFailure(err, output, attempt);
      await store.attemptFailed(output.id, attempt, reason, next, Date.now());
      if ('state' in next && next.state === 'failed')
        this.deps.log.warn(
          { taskUUID: output.taskUUID, field: output.field, reason },
          'an output could not be archived',
        );
    }
  }

  /** The output's bytes: fetched from its URL, or decoded from the inline value. */
  private async bytesOf(output: PendingOutputArchive): Promise<FetchedOutput> {
    if (output.form === 'url')
      return fetchOutput(output.sourceUrl ?? '', {
        guard: this.deps.guard,
        timeoutMs: this.options.timeoutMs,
        maxBytes: output.maxBytes,
      });
    const inline = decodeInline(output.form, output.inlineValue ?? '');
    if (inline.data.length > output.maxBytes)
      throw new OutputFetchError(`it is ${inline.data.length} bytes, over the ${output.maxBytes} kept`, false, true);
    return inline;
  }

  private afterFailure(
    err: unknown,
    output: PendingOutputArchive,
    attempt: number,
  ): { reason: string; next: ArchiveRetry } {
    if (err instanceof OutputFetchError && err.tooLarge) {
      // Over the organization's own limit is its policy at work; over the server's bound, a failure.
      const byPolicy = output.maxBytes < this.options.serverMaxBytes;
      return { reason: err.message, next: { state: byPolicy ? 'skipped' : 'failed' } };
    }
    let reason: string;
    let retry: boolean;
    if (err instanceof OutputFetchError) [reason, retry] = [err.message, err.retry];
    else if (err instanceof OutputRefused) [reason, retry] = [err.message, false];
    else {
      // The media store failed the write (or something unforeseen): storage comes back, so retry.
      this.deps.log.warn({ err, taskUUID: output.taskUUID }, 'archiving an output failed; retrying');
      [reason, retry] = [`storing the copy failed: ${(err as Error).message}`, true];
    }
    if (!retry || attempt >= this.options.maxAttempts) return { reason, next: { state: 'failed' } };
    const delay = retryDelay(attempt, { backoffMs: this.options.backoffMs, backoffMaxMs: BACKOFF_MAX_MS });
    return { reason, next: { retryAt: Date.now() + delay } };
  }
}

/** Bytes of a base64 output or a data URI (`data:<type>;base64,<data>`). */
function decodeInline(form: 'base64' | 'dataURI', value: string): FetchedOutput {
  if (form === 'base64') return { data: Buffer.from(value, 'base64'), contentType: undefined };
  const m = /^data:([^;,]*)((?:;[^;,]*)*),/.exec(value);
  if (!m) throw new OutputRefused('it is not a data URI');
  const body = value.slice(m[0].length);
  const base64 = (m[2] ?? '').split(';').includes('base64');
  return {
    data: base64 ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8'),
    contentType: m[1] === '' ? undefined : m[1],
  };
}

/** Width and height of an image (0 for sound and video, as the media store records them). */
async function pixelSize(data: Buffer, format: MediaFormat): Promise<{ width: number; height: number }> {
  if (format !== 'jpg' && format !== 'png' && format !== 'webp' && format !== 'svg') return { width: 0, height: 0 };
  try {
    const meta = await sharp(data).metadata();
    return { width: meta.width, height: meta.height };
  } catch {
    // An SVG sharp cannot read is still an SVG document; a raster image it cannot read is not an image.
    if (format === 'svg') return { width: 0, height: 0 };
    throw new OutputRefused(`its bytes start like ${CONTENT_TYPES[format]} but do not decode as one`);
  }
}
