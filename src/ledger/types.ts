// The storage contract, in the domain's words. Each backend (sqlite/, postgres/) implements
// these interfaces with the same file names, and test/ledger-contract and test/queue-contract
// run one suite against every backend.

import type { AggregateStore, TaskLinkStore } from './aggregate-types.js';
import type { OutputArchiveStore } from './archive-types.js';
import type { ChainStore, DeletionReason, Tombstone } from './chain-types.js';

export type TaskStatus = 'processing' | 'success' | 'error';

export interface NewTask {
  orgId: string;
  taskUUID: string;
  taskType: string;
  /** The JSON array text of the task objects carrying this taskUUID, exactly as received. */
  requestText: string;
  model: string | null;
  transport: 'rest' | 'websocket';
  createdAt: number;
  /** The id (never the key) of the API key the task came in with; absent for imported tasks. */
  apiKeyId?: string | null;
  /**
   * When the task's own retention ends (ms since the epoch): the caller asked for one shorter
   * than the organization's (docs/protocol.md, "Per-task retention"). Absent or null: none.
   */
  expiresAt?: number | null;
}

export interface MediaRecord {
  mediaUUID: string;
  orgId: string;
  taskUUID: string | null;
  /** Random token that makes the media URL unguessable even to someone who knows mediaUUID. */
  accessToken: string;
  /** The file's extension: an image, or (audioInference, videoInference) a sound or a video. */
  format: 'jpg' | 'png' | 'webp' | 'svg' | 'mp3' | 'wav' | 'flac' | 'ogg' | 'mp4' | 'webm' | 'mov';
  /** Pixels; 0 for sound. */
  width: number;
  height: number;
  bytes: number;
  createdAt: number;
  /** sha256 (hex) of the file, computed as the media store wrote it (migration 11); null for older records. */
  sha256?: string | null;
}

export interface TaskCompletion {
  orgId: string;
  taskUUID: string;
  status: 'success' | 'error';
  /** The task's response envelope text, exactly as sent. */
  responseText: string;
  cost: number | null;
  errorCode: string | null;
  engine: string | null;
  completedAt: number;
  /** Media produced by the task, committed together with the completion (only if it applies). */
  media: MediaRecord[];
  /** Outbound deliveries (webhook POSTs, uploads) to make durable with the completion (only if it applies). */
  deliveries?: NewDelivery[];
}

export interface StoredTask {
  orgId: string;
  taskUUID: string;
  taskType: string;
  status: TaskStatus;
  requestText: string;
  responseText: string | null;
  model: string | null;
  transport: 'rest' | 'websocket';
  cost: number | null;
  errorCode: string | null;
  engine: string | null;
  createdAt: number;
  completedAt: number | null;
  /** The id of the API key the task came in with (migration 10); null for older and imported tasks. */
  apiKeyId?: string | null;
  /** When the task's own retention ends (migration 12); absent when it has none. */
  expiresAt?: number | null;
}

export type RecordOutcome = { recorded: true } | { recorded: false; existing: StoredTask };

/** What a task listing may be narrowed to; every field is optional and they combine with AND. */
export interface TaskFilter {
  taskType?: string;
  status?: TaskStatus;
  model?: string;
  /** Created at or after this time (ms since the epoch). */
  createdFrom?: number;
  /** Created before this time (ms since the epoch). */
  createdBefore?: number;
  /**
   * Text that must occur in the stored request text (case-insensitive for ASCII letters). The
   * request text is the JSON as sent, so this finds prompt words, and any other value too.
   */
  text?: string;
  /** Tasks that failed with this error code. */
  errorCode?: string;
  /** Tasks run by this engine (`builtin`, `upstream`). */
  engine?: string;
  /** Tasks that came in with this API key (its id). */
  apiKeyId?: string;
}

/** Where a listing continues: listings run newest first, ties broken by taskUUID. */
export interface TaskCursor {
  createdAt: number;
  taskUUID: string;
}

export interface TaskKeyPage {
  keys: TaskCursor[];
  next: TaskCursor | null;
}

export interface TaskPage {
  tasks: StoredTask[];
  /** Where the next page starts, or null when this was the last one. */
  next: TaskCursor | null;
}

export interface TaskCounts {
  total: number;
  processing: number;
  success: number;
  error: number;
}

/** What a deletion removed from the ledger; the caller removes the media files themselves. */
export interface DeletedTasks {
  tasks: number;
  media: MediaRecord[];
  /** The chain entry each deleted task left (docs/ledger-integrity.md), for its deletion receipt. */
  tombstones: Tombstone[];
}

export interface TaskLedger {
  /** Makes the request durable before any work starts; reports an existing task under the UUID instead. */
  recordRequest(task: NewTask): Promise<RecordOutcome>;
  /**
   * Makes the response (and any media and deliveries it names) durable before the caller sees it.
   * A finished task is final: the completion applies only to a task still `processing`, and
   * resolves false (nothing written) when the task had already finished or is gone.
   */
  completeTask(completion: TaskCompletion): Promise<boolean>;
  /** Records a task that failed before running (validation): request and response in one write. */
  recordFailedTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome>;
  /**
   * Records an instant task (its answer computed in process, with no effect outside it: modelSearch)
   * already finished: request and response in one write, one transaction. Like recordRequest, an
   * existing taskUUID is reported (nothing written), and the caller replays or refuses it.
   */
  recordInstantTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome>;
  /** Org-scoped lookup: another organization's task is simply not there. */
  findTask(orgId: string, taskUUID: string): Promise<StoredTask | undefined>;
  /** Org-scoped media lookup (for image inputs). */
  findMedia(orgId: string, mediaUUID: string): Promise<MediaRecord | undefined>;
  /** Media lookup by UUID alone, for serving URLs; the caller checks the access token. */
  findMediaForServing(mediaUUID: string): Promise<MediaRecord | undefined>;
  /** Forgets one media record of the organization (mediaStorage delete); returns it so the caller can remove the file. */
  deleteMedia(orgId: string, mediaUUID: string): Promise<MediaRecord | undefined>;
  /** One page of the organization's tasks matching the filter, newest first. */
  listTasks(orgId: string, filter: TaskFilter, cursor: TaskCursor | null, limit: number): Promise<TaskPage>;
  /**
   * The same page as listTasks, as each task's key alone: no text is read back whole. For readers
   * that then take the tasks one at a time (the export), so a page of large bodies is never held at once.
   */
  listTaskKeys(orgId: string, filter: TaskFilter, cursor: TaskCursor | null, limit: number): Promise<TaskKeyPage>;
  /** How many of the organization's tasks match the filter, in all and by status. */
  countTasks(orgId: string, filter: TaskFilter): Promise<TaskCounts>;
  /** The media a task produced (or uploaded), oldest first. */
  listTaskMedia(orgId: string, taskUUID: string): Promise<MediaRecord[]>;
  /**
   * Many tasks of the organization in one read (ledger verify reads a page of the chain's tasks
   * at once): those of `taskUUIDs` that are there, in no particular order, each with its media,
   * oldest first, as findTask and listTaskMedia give them.
   */
  findTasksWithMedia(orgId: string, taskUUIDs: readonly string[]): Promise<TaskWithMedia[]>;
  /**
   * Forgets one task and its media rows, leaving a tombstone in the chain; afterwards it answers
   * like a task that never existed. Rejects with legalHold (nothing removed) while the task or its
   * organization is under a legal hold, unless the server is withdrawing a task it never acknowledged.
   */
  deleteTask(orgId: string, taskUUID: string, reason?: DeletionReason): Promise<DeletedTasks>;
  /**
   * Forgets up to `limit` of the organization's tasks created before `before` (oldest first), with
   * their media rows and a tombstone each; tasks under a legal hold stay (all of them while the
   * organization is held). `reason` defaults to operator for deleteTask, retention here.
   */
  deleteTasksBefore(orgId: string, before: number, limit: number, reason?: DeletionReason): Promise<DeletedTasks>;
  /**
   * Forgets up to `limit` tasks, of any organization, whose own retention ended at or before `now`
   * (NewTask.expiresAt), with a tombstone each (reason retention); tasks under a legal hold stay.
   */
  deleteExpiredTasks(now: number, limit: number): Promise<DeletedTasks>;
  /**
   * Restores an exported task (texts byte for byte) with its media rows, in one write; does
   * nothing and returns false when the organization already has a task under that UUID.
   */
  importTask(task: StoredTask, media: MediaRecord[]): Promise<boolean>;
  /**
   * importTask for many tasks in one transaction, their chain entries appended in the batch's
   * order (bulk loads and `tasks import`). All or nothing: when one fails, none is written. Says
   * for each task whether it was written (false: the organization already had it, or it came
   * earlier in the batch).
   */
  importTasks(batch: readonly TaskWithMedia[]): Promise<boolean[]>;
  close(): Promise<void>;
}

/** A task with its media records (an import, a bulk read). */
export interface TaskWithMedia {
  task: StoredTask;
  media: MediaRecord[];
}

/** One result of a task, recorded as soon as it is ready (async tasks). */
export interface ResultItem {
  /** Position among the task's results: the stable order getResponse reports them in. */
  index: number;
  status: 'success' | 'error';
  /** The item (or error object) text, exactly as delivered. */
  text: string;
}

/** A task waiting in, or claimed from, the queue. */
export interface QueuedJob {
  orgId: string;
  taskUUID: string;
  /** How many times the job has been claimed, this claim included. */
  attempts: number;
  enqueuedAt: number;
  /**
   * The fencing token of this claim: it grows with every claim of the job, and the queue takes a
   * job's writes (recordItem, finishJob) only under its latest claim, so a worker that lost its
   * lease (paused, partitioned) can no longer change the task another worker took over.
   */
  claim: number;
}

export interface TaskQueue {
  /** Records the request and queues the task in one write; reports an existing task instead. */
  enqueue(task: NewTask): Promise<RecordOutcome>;
  /**
   * Claims up to `limit` of the oldest runnable jobs for `owner` for `leaseMs`: queued ones, or
   * running ones whose lease ran out (their owner is gone). Each claim counts as an attempt.
   * Organizations take turns (round robin, fewest running first), and with `perOrgLimit` above
   * 0 no organization has more than that many jobs running at once, on all replicas together.
   */
  claimNext(owner: string, leaseMs: number, limit: number, perOrgLimit?: number): Promise<QueuedJob[]>;
  /** Keeps `owner`'s claims alive while its jobs run. */
  renewLeases(owner: string, leaseMs: number): Promise<void>;
  /** Gives `owner`'s unfinished jobs back to the queue without counting the attempt (graceful stop). */
  releaseJobs(owner: string): Promise<number>;
  /**
   * Records one result (with its media and deliveries) while the task still runs, under the claim
   * `claim` (QueuedJob.claim). A result already recorded at that index is final: this copy is
   * dropped whole. Rejects with JobLeaseLost, writing nothing, when the claim is no longer the job's.
   */
  recordItem(
    orgId: string,
    taskUUID: string,
    item: ResultItem,
    media: MediaRecord[],
    deliveries: NewDelivery[],
    claim: number,
  ): Promise<void>;
  /** The results recorded so far, in index order. */
  listItems(orgId: string, taskUUID: string): Promise<ResultItem[]>;
  /**
   * Completes the task (if still processing) and removes its job in one write, under the claim
   * `claim`; rejects with JobLeaseLost, writing nothing, when the claim is no longer the job's.
   */
  finishJob(completion: TaskCompletion, claim: number): Promise<void>;
  /**
   * At startup: jobs a previous process left running become claimable now (the attempt still
   * counts), where the backend knows no other process can be running them (SQLite: one process
   * owns the file). Shared backends (PostgreSQL) leave them to their leases; returns how many.
   */
  releaseAbandonedJobs(): Promise<number>;
  /**
   * Tasks left `processing` with no job behind them: sync tasks whose process died. Only a
   * backend that knows no other process can be running them returns any (as above).
   */
  findOrphanedTasks(limit: number): Promise<StoredTask[]>;
  /**
   * Says this process is alive for the next `ttlMs` (shared backends: other replicas judge its
   * tasks by it). Called when the worker pool starts and every third of that time after.
   */
  heartbeat(ttlMs: number): Promise<void>;
  /**
   * Tasks left `processing`, with no job, by a replica whose heartbeat ran out: sync tasks a dead
   * replica was running. Safe to call at any time; a backend with one process returns none.
   */
  findTasksOfDeadReplicas(limit: number): Promise<StoredTask[]>;
  countJobs(): Promise<{ queued: number; running: number }>;
}

export type DeliveryKind = 'webhook' | 'upload';

export interface NewDelivery {
  /** Also the `webhook-id` header: stable across retries so receivers can de-duplicate. */
  id: string;
  orgId: string;
  taskUUID: string;
  kind: DeliveryKind;
  url: string;
  itemIndex: number;
  /** webhook: the JSON body to POST. */
  body: string | null;
  /** upload: the media file to PUT. */
  mediaUUID: string | null;
  createdAt: number;
}

export interface PendingDelivery extends NewDelivery {
  /** Attempts made before this one. */
  attempts: number;
}

export interface DeliveryAttempt {
  attempt: number;
  startedAt: number;
  /** HTTP status of the answer; null when none came (timeout, refused, DNS). */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface DeliveryRecord extends NewDelivery {
  state: 'pending' | 'delivered' | 'failed';
  attempts: DeliveryAttempt[];
  nextAttemptAt: number | null;
  finishedAt: number | null;
}

export interface DeliveryStore {
  /**
   * Claims up to `limit` deliveries due at `now` for `owner` for `leaseMs`, organizations taking
   * turns; with `perOrgLimit` above 0, no organization has more than that many mid-attempt at once.
   */
  claimDue(
    owner: string,
    now: number,
    limit: number,
    leaseMs: number,
    perOrgLimit?: number,
  ): Promise<PendingDelivery[]>;
  /** At startup: deliveries a previous process left mid-attempt are due now (SQLite; see releaseAbandonedJobs). */
  releaseAbandonedDeliveries(): Promise<number>;
  /** When the next pending delivery falls due (ms epoch), if any. */
  nextDueAt(): Promise<number | undefined>;
  /** Records an attempt and what follows: another try at `retryAt`, or a final state. */
  recordAttempt(
    deliveryId: string,
    attempt: DeliveryAttempt,
    next: { state: 'pending'; retryAt: number } | { state: 'delivered' | 'failed' },
  ): Promise<void>;
  /** Every delivery of a task with its attempts; all organizations when `orgId` is undefined. */
  listForTask(taskUUID: string, orgId?: string): Promise<DeliveryRecord[]>;
}

export interface Organization {
  id: string;
  name: string;
  createdAt: number;
  /** Set when the organization was found by an API key: that key's id, recorded with each task. */
  apiKeyId?: string;
  /**
   * Set when the caller asked for a retention of its own for the tasks of this request or
   * connection (X-Runtrail-Retention, runtrailRetention): how long, in ms, they are kept.
   */
  taskRetentionMs?: number;
}

export interface ApiKeyInfo {
  id: string;
  orgId: string;
  orgName: string;
  /** The first characters of the key, enough to tell keys apart; never the whole key. */
  prefix: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface AccountStore {
  ensureOrganization(name: string): Promise<Organization>;
  findOrganizationByName(name: string): Promise<Organization | undefined>;
  addApiKey(orgId: string, keyHash: string, prefix: string, label: string | null): Promise<ApiKeyInfo>;
  /** The organization holding an active key with this hash. */
  findOrganizationByKeyHash(keyHash: string): Promise<Organization | undefined>;
  listApiKeys(orgName?: string): Promise<ApiKeyInfo[]>;
  /** Revokes by key id or by prefix; returns how many keys were revoked. */
  revokeApiKey(idOrPrefix: string): Promise<number>;
  countApiKeys(): Promise<number>;
  /** Every organization with its retention setting, for the retention sweeper. */
  listOrganizations(): Promise<OrganizationRetention[]>;
  /** Sets how many days the organization's tasks are kept (fractions allowed); null keeps them forever (or the server default). */
  setRetentionDays(orgId: string, days: number | null): Promise<void>;
  findOrganizationById(id: string): Promise<Organization | undefined>;
  /** The organization's webhook signing secret, stored as `candidate` when it has none yet. */
  webhookSecret(orgId: string, candidate: string): Promise<string>;
  /** Replaces the organization's webhook signing secret. */
  setWebhookSecret(orgId: string, secret: string): Promise<void>;
}

export interface OrganizationRetention extends Organization {
  /** Days a task is kept after it was created; null means the server default (RUNTRAIL_RETENTION_DAYS, or forever). */
  retentionDays: number | null;
}

/**
 * An organization's own upstream (`runtrail keys upstream`): its URL and its key sealed with the
 * server's accounts key (AES-256-GCM, src/accounts/sealed-secret.ts). The store never sees the key
 * in the clear.
 */
export interface UpstreamAccount {
  orgId: string;
  /** The account's name within the organization (`default` unless a route names another). */
  name: string;
  url: string;
  /** The sealed key: never logged, shown or recorded with a task. */
  sealedKey: string;
  updatedAt: number;
}

export interface UpstreamAccountStore {
  /** Creates or replaces the organization's account of that name. */
  setAccount(account: UpstreamAccount): Promise<void>;
  /** Forgets it; returns whether there was one. */
  clearAccount(orgId: string, name: string): Promise<boolean>;
  findAccount(orgId: string, name: string): Promise<UpstreamAccount | undefined>;
  /** Every account, or one organization's, ordered by organization and name. */
  listAccounts(orgId?: string): Promise<UpstreamAccount[]>;
}

/** Whose limits: an organization (all its keys together) or one API key. */
export type LimitScope = 'org' | 'key';

/** Limits of one organization or key; null fields are unlimited. Spend is in the ledger's cost unit (USD). */
export interface UsageLimits {
  perSecond: number | null;
  perMinute: number | null;
  spendPerDay: number | null;
  spendPerMonth: number | null;
}

/** One rate window to take a task from: at most `limit` tasks of counter `counter` in the window starting at `windowStart`. */
export interface RateWindow {
  /** `org:<id>` or `key:<id>`. */
  counter: string;
  windowMs: number;
  windowStart: number;
  limit: number;
}

export interface LimitStore {
  /** The limits set for `scopeId`, or undefined when none are. */
  limitsOf(scope: LimitScope, scopeId: string): Promise<UsageLimits | undefined>;
  /** Sets (all fields null: removes) the limits of `scopeId`. */
  setLimits(scope: LimitScope, scopeId: string, limits: UsageLimits): Promise<void>;
  /** Every limit set, for listings. */
  listLimits(): Promise<{ scope: LimitScope; scopeId: string; limits: UsageLimits }[]>;
  /**
   * Counts one task in every window, all or nothing, in the database (so replicas share the
   * counts): returns undefined when every window had room, else the first full window (nothing
   * counted).
   */
  takeTask(windows: readonly RateWindow[]): Promise<RateWindow | undefined>;
  /** Recorded cost of the organization's tasks (only those of `apiKeyId` when given) created since `since`. */
  spentSince(orgId: string, apiKeyId: string | null, since: number): Promise<number>;
  /** Forgets counter windows that ended before `before`; returns how many rows went. */
  pruneCounters(before: number): Promise<number>;
}

/** Everything one backend provides, opened and closed together. */
export interface Storage {
  ledger: TaskLedger;
  queue: TaskQueue;
  deliveries: DeliveryStore;
  accounts: AccountStore;
  upstreamAccounts: UpstreamAccountStore;
  limits: LimitStore;
  audit: AuditStore;
  sessions: SessionStore;
  aggregates: AggregateStore;
  links: TaskLinkStore;
  /** Archived copies of forwarded tasks' outputs, and each organization's archive policy. */
  archives: OutputArchiveStore;
  /** The ledger's hash chain and legal holds (docs/ledger-integrity.md). */
  chain: ChainStore;
  /** Calls `listener` with the number of writes in each commit, where the backend batches them (SQLite). */
  observeCommitBatches?(listener: (writes: number) => void): void;
  /**
   * Resolves when the ledger answers a read (for /healthz); rejects saying what failed. A write
   * refused for a full disk is not a failure here: it is that task's serviceUnavailable.
   */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/**
 * WebSocket sessions (connectionSessionUUID) and the frames produced while no socket of theirs
 * was open, kept in the database so any replica can resume a session (docs/websocket.md).
 */
export interface SessionStore {
  /** A socket of this organization is attached to the session (created if new); it does not expire while attached. */
  attachSession(sessionUUID: string, orgId: string): Promise<void>;
  /** No socket is attached any more: the session ends at `expiresAt` unless resumed or given a frame. */
  detachSession(sessionUUID: string, expiresAt: number): Promise<void>;
  /** Keeps a frame for a resume; the session then lives until `expiresAt`. */
  keepFrame(sessionUUID: string, frame: string, keptAt: number, expiresAt: number): Promise<void>;
  /**
   * Resumes a session of `orgId` that has not expired at `now`: attaches it and hands over (and
   * forgets) its kept frames, oldest first, those kept since `keptSince`. Undefined when there is
   * no such session (unknown, expired, or another organization's).
   */
  resumeSession(sessionUUID: string, orgId: string, now: number, keptSince: number): Promise<string[] | undefined>;
  /** Forgets sessions that expired before `now` (and their frames); returns how many. */
  deleteExpiredSessions(now: number): Promise<number>;
}

/** Calls to an operator engine (engines/openai-compatible, engines/comfyui), by what they asked for. */
export type OperatorExchangeKind =
  'chat' | 'stream' | 'images' | 'image-file' | 'prompt' | 'upload' | 'history' | 'view';

/** One call runtrail made to an upstream for a task (engines/upstream), kept beside the task for audit. */
export interface UpstreamExchange {
  orgId: string;
  taskUUID: string;
  upstreamUrl: string;
  /** The taskUUID the upstream saw (runtrail's own, derived from the organization and the caller's). */
  upstreamTaskUUID: string;
  /** `task` (the forwarded task), `poll` (a getResponse for an async task). */
  kind: 'task' | 'poll' | OperatorExchangeKind;
  /** null when no HTTP answer came (timeout, connection refused, circuit open). */
  httpStatus: number | null;
  /** The upstream's reply body as received (never the upstream key). */
  replyText: string | null;
  error: string | null;
  latencyMs: number;
  createdAt: number;
}

/** Spend of one organization: total recorded cost, by engine and task type. */
export interface SpendRow {
  engine: string | null;
  taskType: string;
  tasks: number;
  cost: number;
}

/** Audit records beside the ledger: upstream exchanges, and spend totals read from the tasks. */
export interface AuditStore {
  recordUpstreamExchange(exchange: UpstreamExchange): Promise<void>;
  listUpstreamExchanges(orgId: string, taskUUID: string): Promise<UpstreamExchange[]>;
  spend(orgId: string, since?: number, until?: number): Promise<SpendRow[]>;
}
