// `runtrail ledger verify` and GET /api/ledger/verify: walks every lane of an organization's
// chain (chain-walk.ts) and compares what each entry recorded with what the ledger holds now —
// the task's fields, its result items, its media rows and the media files themselves — reporting
// the first broken entry with its taskUUID and what differs. Tasks deleted with a tombstone are
// expected to be gone; the tombstone must name exactly the entries the task had.

import type { Storage, StoredTask, MediaRecord, ResultItem } from '../ledger/types.js';
import type { ChainEntry, ChainHead } from '../ledger/chain-types.js';
import {
  completePayload,
  finishedPayload,
  itemPayload,
  recordPayload,
  removedHash,
  sha256Hex,
  storedCompletion,
} from '../ledger/chain-payload.js';
import { MediaMissingError, type MediaStore } from '../media/media-store.js';
import { ProblemList, type Problem } from './problems.js';
import { walkLane } from './chain-walk.js';
import { checkpointProblem, type Checkpoint } from './checkpoint.js';

/** What verification reads: the chain, the tasks and their media rows, and async tasks' result items. */
export interface VerifiedStorage {
  chain: Storage['chain'];
  ledger: Pick<Storage['ledger'], 'findTask' | 'listTaskMedia' | 'findTasksWithMedia'>;
  queue: Pick<Storage['queue'], 'listItems'>;
}

export interface VerifyOptions {
  /** Only this organization (default: every organization with a chain). */
  orgId?: string;
  /** Compare contents only for entries recorded at or after this time (links are always checked from the start). */
  since?: number;
  /** Prove the ledger unchanged up to this signed checkpoint. */
  checkpoint?: Checkpoint;
  /** The public key the checkpoint must be signed with (default: the one it carries). */
  trustedPublicKeyPem?: string;
  /** Read every media file and compare its sha256 (default true). */
  checkMedia?: boolean;
  /** Problems kept in the report (default 100; all are counted). */
  maxProblems?: number;
}

export interface VerifyReport {
  ok: boolean;
  organizations: number;
  lanes: number;
  entries: number;
  /** Entries whose contents were compared with the ledger (the others were before --since). */
  compared: number;
  mediaFilesChecked: number;
  elapsedMs: number;
  checkpoint: { createdAt: string; keyId: string; lanes: number } | null;
  /** The first problem found, or null. */
  firstProblem: Problem | null;
  problemCount: number;
  problems: Problem[];
}

/** What one mismatching payload field is called in a report, for readers who do not know the payload. */
const FIELD_NAMES: Record<string, string> = {
  request: 'requestText',
  response: 'responseText',
  text: 'item text',
};

export async function verifyLedger(
  storage: VerifiedStorage,
  media: MediaStore | undefined,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const started = performance.now();
  const problems = new ProblemList(options.maxProblems ?? 100);
  const report = { organizations: 0, lanes: 0, entries: 0, compared: 0, mediaFilesChecked: 0 };
  const checkpoint = options.checkpoint;
  if (checkpoint) {
    const why = checkpointProblem(checkpoint, options.trustedPublicKeyPem);
    if (why)
      problems.add({
        kind: 'checkpoint-mismatch',
        orgId: options.orgId ?? '',
        taskUUID: null,
        detail: `the checkpoint ${why}`,
      });
  }
  const orgIds = options.orgId !== undefined ? [options.orgId] : await storage.chain.organizations();
  for (const orgId of orgIds) {
    report.organizations++;
    const heads = await storage.chain.heads(orgId);
    const signed = new Map((checkpoint?.heads ?? []).filter((h) => h.orgId === orgId).map((h) => [h.lane, h]));
    for (const lane of signed.keys()) {
      if (!heads.some((h) => h.lane === lane))
        problems.add({
          kind: 'checkpoint-mismatch',
          orgId,
          taskUUID: null,
          lane,
          detail: `the checkpoint signed lane ${lane}, which is no longer in the ledger: its entries were removed`,
        });
    }
    const checker = new ContentChecker(storage, media, orgId, problems, options.checkMedia !== false);
    await checker.load();
    for (const head of heads) {
      report.lanes++;
      report.entries += await walkLane(
        storage.chain,
        head,
        problems,
        async (e) => {
          if (options.since !== undefined && e.recordedAt < options.since) return;
          report.compared++;
          await checker.check(e);
        },
        signed.get(head.lane),
        (page) =>
          checker.prefetch(options.since === undefined ? page : page.filter((e) => e.recordedAt >= options.since!)),
      );
    }
    for (const taskUUID of await storage.chain.unchainedTasks(orgId, 10)) {
      problems.add({
        kind: 'row-inserted',
        orgId,
        taskUUID,
        detail: `task ${taskUUID} is in the ledger, but no chain entry records it: it was written around the ledger (or recorded before the chain existed: runtrail ledger adopt)`,
      });
    }
    report.mediaFilesChecked += checker.mediaFilesChecked;
  }
  return {
    ok: problems.total === 0,
    ...report,
    elapsedMs: Math.round(performance.now() - started),
    checkpoint: checkpoint
      ? { createdAt: checkpoint.createdAt, keyId: checkpoint.keyId, lanes: checkpoint.heads.length }
      : null,
    firstProblem: problems.list[0] ?? null,
    problemCount: problems.total,
    problems: problems.list,
  };
}

/** Compares entries of one organization with the ledger's current state. */
class ContentChecker {
  private removedTasks = new Set<string>();
  private removedMedia = new Set<string>();
  /**
   * The tasks the page of entries being checked names, read in one go before it (prefetch): one
   * query per task, over the network on PostgreSQL, was most of the walk's time.
   */
  private states = new Map<string, TaskState>();
  /** Tasks already reported missing (one report per task, not one per entry). */
  private readonly reportedMissing = new Set<string>();
  mediaFilesChecked = 0;

  constructor(
    private readonly storage: VerifiedStorage,
    private readonly media: MediaStore | undefined,
    private readonly orgId: string,
    private readonly problems: ProblemList,
    private readonly checkFiles: boolean,
  ) {}

  async load(): Promise<void> {
    const removals = await this.storage.chain.removals(this.orgId);
    this.removedTasks = removals.tasks;
    this.removedMedia = removals.media;
  }

  /** Reads the tasks `entries` name (those not already read for the last page) with their media. */
  async prefetch(entries: readonly ChainEntry[]): Promise<void> {
    const next = new Map<string, TaskState>();
    const missing = new Set<string>();
    for (const e of entries) {
      if (e.kind === 'tombstone' || e.kind === 'media-deleted' || this.removedTasks.has(e.taskUUID)) continue;
      if (next.has(e.taskUUID)) continue;
      const have = this.states.get(e.taskUUID);
      if (have) next.set(e.taskUUID, have);
      else missing.add(e.taskUUID);
    }
    if (missing.size > 0) {
      const found = new Map(
        (await this.storage.ledger.findTasksWithMedia(this.orgId, [...missing])).map((t) => [
          t.task.taskUUID.toLowerCase(),
          t,
        ]),
      );
      for (const uuid of missing) {
        const t = found.get(uuid.toLowerCase());
        next.set(uuid, stateFrom(t?.task, t?.media ?? []));
      }
    }
    this.states = next;
  }

  async check(e: ChainEntry): Promise<void> {
    if (e.kind === 'tombstone') return this.checkTombstone(e);
    if (e.kind === 'media-deleted') return;
    if (this.removedTasks.has(e.taskUUID)) return;
    const state = await this.stateOf(e.taskUUID);
    if (!state.task) {
      // Deleted since this run loaded the tombstones? Then it is not a problem.
      if ((await this.storage.chain.taskEntries(this.orgId, e.taskUUID)).some((x) => x.kind === 'tombstone')) return;
      if (this.reportedMissing.has(e.taskUUID)) return;
      this.reportedMissing.add(e.taskUUID);
      this.problems.add({
        ...this.at(e),
        kind: 'row-removed',
        detail: `task ${e.taskUUID} was recorded (${e.lane}#${e.seq}) but is no longer in the ledger, and no tombstone says it was deleted`,
      });
      return;
    }
    const task = state.task;
    if (e.kind === 'record') {
      this.compare(e, recordPayload(task));
      return;
    }
    const recorded = JSON.parse(e.payload) as {
      media?: { mediaUUID: string; sha256: string | null }[];
      index?: number;
    };
    const mediaNow = await this.mediaAsRecorded(e, recorded.media ?? [], state.media);
    if (mediaNow === undefined) return;
    if (e.kind === 'complete' || e.kind === 'finished') {
      const done = storedCompletion(task, mediaNow);
      if (!done) {
        this.problems.add({
          ...this.at(e),
          kind: 'row-edited',
          field: 'status',
          expected: (JSON.parse(e.payload) as { status: unknown }).status,
          found: task.status,
          detail: `task ${e.taskUUID}: the chain recorded its completion, but the ledger says it is still processing`,
        });
        return;
      }
      this.compare(
        e,
        e.kind === 'finished' ? finishedPayload(task, done) : completePayload(task.taskUUID, done),
        mediaNow,
      );
      return;
    }
    const items = await this.storage.queue.listItems(this.orgId, e.taskUUID);
    const item: ResultItem | undefined = items.find((i) => i.index === recorded.index);
    if (!item) {
      this.problems.add({
        ...this.at(e),
        kind: 'row-removed',
        field: `item ${String(recorded.index)}`,
        detail: `task ${e.taskUUID}: result item ${String(recorded.index)} the chain recorded is no longer in the ledger`,
      });
      return;
    }
    this.compare(e, itemPayload(task.taskUUID, item, mediaNow), mediaNow);
  }

  private at(e: ChainEntry) {
    return { orgId: e.orgId, taskUUID: e.taskUUID || null, lane: e.lane, seq: e.seq };
  }

  /** Reports the first field that differs between the recorded payload and the one rebuilt from the ledger. */
  private compare(e: ChainEntry, rebuilt: string, media: readonly MediaRecord[] = []): void {
    if (rebuilt === e.payload) return;
    const was = JSON.parse(e.payload) as Record<string, unknown>;
    const now = JSON.parse(rebuilt) as Record<string, unknown>;
    const field = Object.keys(was).find((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k])) ?? 'payload';
    if (field === 'media') {
      const changed = media.find((m, i) => (was['media'] as { sha256: unknown }[])[i]?.sha256 !== m.sha256);
      this.problems.add({
        ...this.at(e),
        kind: 'row-edited',
        field: 'media',
        expected: was['media'],
        found: now['media'],
        detail: `task ${e.taskUUID}: media record ${changed?.mediaUUID ?? ''} differs from what the chain recorded`,
      });
      return;
    }
    const hashed = field in FIELD_NAMES;
    this.problems.add({
      ...this.at(e),
      kind: 'row-edited',
      field: FIELD_NAMES[field] ?? field,
      expected: was[field],
      found: now[field],
      detail: `task ${e.taskUUID}: its ${FIELD_NAMES[field] ?? field} ${hashed ? '(sha256) ' : ''}differs from what the chain recorded at ${e.lane}#${e.seq}`,
    });
  }

  /**
   * The media records an entry named, as the ledger holds them now (minus those deleted with an
   * entry saying so), after checking each file's bytes; undefined when one is missing or changed
   * (reported here).
   */
  private async mediaAsRecorded(
    e: ChainEntry,
    recorded: readonly { mediaUUID: string; sha256: string | null }[],
    rows: Map<string, MediaRecord>,
  ): Promise<MediaRecord[] | undefined> {
    const out: MediaRecord[] = [];
    for (const r of recorded) {
      if (this.removedMedia.has(r.mediaUUID)) continue;
      const row = rows.get(r.mediaUUID);
      if (!row) {
        this.problems.add({
          ...this.at(e),
          kind: 'media-removed',
          field: 'media',
          expected: r.mediaUUID,
          detail: `task ${e.taskUUID}: media ${r.mediaUUID} the chain recorded has no record in the ledger any more`,
        });
        return undefined;
      }
      if (this.checkFiles && this.media && r.sha256 !== null) {
        this.mediaFilesChecked++;
        let found: string;
        try {
          found = sha256Hex(await this.media.read(row));
        } catch (err) {
          if (!(err instanceof MediaMissingError)) throw err;
          this.problems.add({
            ...this.at(e),
            kind: 'media-removed',
            field: 'media',
            expected: r.sha256,
            detail: `task ${e.taskUUID}: the file of media ${r.mediaUUID} is gone from the media store`,
          });
          return undefined;
        }
        if (found !== r.sha256) {
          this.problems.add({
            ...this.at(e),
            kind: 'media-changed',
            field: 'media',
            expected: r.sha256,
            found,
            detail: `task ${e.taskUUID}: the file of media ${r.mediaUUID} was replaced: its sha256 differs from what the chain recorded`,
          });
          return undefined;
        }
      }
      out.push(row);
    }
    return out;
  }

  private async checkTombstone(e: ChainEntry): Promise<void> {
    const t = JSON.parse(e.payload) as { removed?: unknown };
    const all = await this.storage.chain.taskEntries(this.orgId, e.taskUUID);
    const before = earlierEntries(all, e);
    if (removedHash(before.map((x) => x.hash)) === t.removed) return;
    this.problems.add({
      ...this.at(e),
      kind: 'tombstone-mismatch',
      expected: t.removed,
      found: removedHash(before.map((x) => x.hash)),
      detail: `the tombstone of task ${e.taskUUID} does not cover the entries the chain holds for it: entries were changed, added or removed`,
    });
  }

  private async stateOf(taskUUID: string): Promise<TaskState> {
    const cached = this.states.get(taskUUID);
    if (cached) return cached;
    const task = await this.storage.ledger.findTask(this.orgId, taskUUID);
    const state = stateFrom(task, task ? await this.storage.ledger.listTaskMedia(this.orgId, taskUUID) : []);
    this.states.set(taskUUID, state);
    return state;
  }
}

/** A task as the ledger holds it now (undefined: not there), with its media rows by media UUID. */
interface TaskState {
  task: StoredTask | undefined;
  media: Map<string, MediaRecord>;
}

function stateFrom(task: StoredTask | undefined, media: readonly MediaRecord[]): TaskState {
  return { task, media: new Map(media.map((m) => [m.mediaUUID.toLowerCase(), m])) };
}

/**
 * The entries a tombstone covers: the task's entries written before it (in the order the
 * backends read them for the tombstone: time, lane, position), not other tombstones' subjects
 * after it. Entries at the same millisecond in a lane sorting after the tombstone's count too
 * when they precede it in their own lane's order; the writer saw every committed entry.
 */
export function earlierEntries(all: readonly ChainEntry[], tombstone: ChainEntry): ChainEntry[] {
  return all.filter(
    (x) =>
      x !== tombstone &&
      !(x.lane === tombstone.lane && x.seq === tombstone.seq) &&
      (x.recordedAt < tombstone.recordedAt ||
        (x.recordedAt === tombstone.recordedAt && (x.lane !== tombstone.lane || x.seq < tombstone.seq))),
  );
}

export type { ChainHead };
