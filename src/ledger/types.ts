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
}

/** Everything one backend provides, opened and closed together. */
export interface Storage {
  ledger: TaskLedger;
  accounts: AccountStore;
  close(): Promise<void>;
}
