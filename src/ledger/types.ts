// The storage contract, in the domain's words. Each backend (sqlite/ today, postgres/ later)
// implements these interfaces with the same file names, and test/ledger-contract runs one suite
// against every backend.

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
}

export interface MediaRecord {
  mediaUUID: string;
  orgId: string;
  taskUUID: string | null;
  /** Random token that makes the media URL unguessable even to someone who knows mediaUUID. */
  accessToken: string;
  format: 'jpg' | 'png' | 'webp';
  width: number;
  height: number;
  bytes: number;
  createdAt: number;
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
  /** Media produced by the task, committed together with the completion. */
  media: MediaRecord[];
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
}

/** Where a listing continues: listings run newest first, ties broken by taskUUID. */
export interface TaskCursor {
  createdAt: number;
  taskUUID: string;
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
}

export interface TaskLedger {
  /** Makes the request durable before any work starts; reports an existing task under the UUID instead. */
  recordRequest(task: NewTask): Promise<RecordOutcome>;
  /** Makes the response (and any media it names) durable before the caller sees it. */
  completeTask(completion: TaskCompletion): Promise<void>;
  /** Records a task that failed before running (validation): request and response in one write. */
  recordFailedTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome>;
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
  /** How many of the organization's tasks match the filter, in all and by status. */
  countTasks(orgId: string, filter: TaskFilter): Promise<TaskCounts>;
  /** The media a task produced (or uploaded), oldest first. */
  listTaskMedia(orgId: string, taskUUID: string): Promise<MediaRecord[]>;
  /** Forgets one task and its media rows; afterwards it answers like a task that never existed. */
  deleteTask(orgId: string, taskUUID: string): Promise<DeletedTasks>;
  /** Forgets up to `limit` of the organization's tasks created before `before` (oldest first), with their media rows. */
  deleteTasksBefore(orgId: string, before: number, limit: number): Promise<DeletedTasks>;
  /**
   * Restores an exported task (texts byte for byte) with its media rows, in one write; does
   * nothing and returns false when the organization already has a task under that UUID.
   */
  importTask(task: StoredTask, media: MediaRecord[]): Promise<boolean>;
  close(): Promise<void>;
}

export interface Organization {
  id: string;
  name: string;
  createdAt: number;
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
}

export interface OrganizationRetention extends Organization {
  /** Days a task is kept after it was created; null means the server default (RUNTRAIL_RETENTION_DAYS, or forever). */
  retentionDays: number | null;
}

/** Everything one backend provides, opened and closed together. */
export interface Storage {
  ledger: TaskLedger;
  accounts: AccountStore;
  close(): Promise<void>;
}
