// The one place that reads process.env: environment variables and CLI flags become one typed,
// validated config object. Flags win over the environment. Which settings exist, their flags and
// their defaults are the table in src/settings.ts; this file parses and checks their values.

import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { apiKeyProblem } from './accounts/api-keys.js';
import { parseAccountsKey } from './accounts/sealed-secret.js';
import { accountNameProblem } from './accounts/account-name.js';
import { parseArchivePolicy } from './archive/archive-policy.js';
import type { ArchivePolicy } from './ledger/archive-types.js';
import { SETTINGS, flagKey, type DefaultedSetting, type Setting, type SettingName } from './settings.js';
import {
  OperatorConfigError,
  operatorEngineConfig,
  type OperatorEngineConfig,
} from './engines/remote/operator-settings.js';

/** Task types each operator engine can serve (docs/engines.md). */
export const OPENAI_COMPATIBLE_TASK_TYPES = ['textInference', 'promptEnhance', 'caption', 'imageInference'] as const;
export const COMFYUI_TASK_TYPES = ['imageInference'] as const;

export interface PriceRule {
  /** AIR pattern with `*` wildcards (`runware:*`, `*`), matched against the task's model. */
  model: string;
  taskType: string;
  /** USD per produced item. */
  perItem: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  mediaDir: string;
  /** Where media live: the folder (mediaDir) or object storage (RUNTRAIL_MEDIA_URL=s3://…). */
  media: MediaConfig;
  /** How GET /media/… answers: streams the bytes, or (object storage only) redirects to a presigned URL. */
  mediaServing: MediaServingConfig;
  /** When set, organization `default` holds this key from start (scripts and tests). */
  apiKey: string | undefined;
  maxBodyBytes: number;
  maxTasksPerRequest: number;
  maxJsonDepth: number;
  /** A request whose headers and body have not all arrived after this long is answered requestTimeout (RUNTRAIL_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Base URL that produced media URLs start with. */
  publicUrl: string;
  /** Hosts or CIDRs that image inputs may be fetched from (and, later, webhooks sent to). */
  outboundAllow: string[];
  logLevel: string;
  /** RUNTRAIL_PRICES_FILE's rules; they come before each task type's default prices (empty when unset). */
  prices: PriceRule[];
  /** `postgres://…` switches storage to PostgreSQL; unset means SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** Async delivery: the worker pool, the sync time limit, shutdown and webhook retries (docs/async.md). */
  async: AsyncConfig;
  /** A WebSocket with no traffic either way for this long is closed (RUNTRAIL_WS_IDLE_MS). */
  wsIdleMs: number;
  /** How long frames a closed WebSocket could not receive are kept for a resumed session (RUNTRAIL_WS_RESUME_MS). */
  wsResumeMs: number;
  /** Stop reading a WebSocket whose unsent frames exceed this many bytes (RUNTRAIL_WS_MAX_BUFFERED_BYTES). */
  wsMaxBufferedBytes: number;
  /** Close (4001) a WebSocket that stays over that bound without sending anything for this long (RUNTRAIL_WS_SEND_STALL_MS). */
  wsSendStallMs: number;
  /** GET /metrics needs `Authorization: Bearer <token>` when set (RUNTRAIL_METRICS_TOKEN). */
  metricsToken: string | undefined;
  /** `host:port` where /metrics is served instead of the API port (RUNTRAIL_METRICS_LISTEN). */
  metricsListen: { host: string; port: number } | undefined;
  /** Days a task is kept for organizations without their own setting (RUNTRAIL_RETENTION_DAYS); undefined keeps them forever. */
  retentionDays: number | undefined;
  /** Seconds between two runs of the retention sweeper (RUNTRAIL_RETENTION_SWEEP_SECONDS). */
  retentionSweepSeconds: number;
  /** Texts above this many bytes are stored out of line (RUNTRAIL_OUT_OF_LINE_BYTES). */
  outOfLineBytes: number;
  /** The Ed25519 key that signs checkpoints and receipts (RUNTRAIL_LEDGER_SIGNING_KEY); unset: generated into the data folder. */
  ledgerSigningKey: string | undefined;
  /** A Runware-compatible API tasks are forwarded to (RUNTRAIL_UPSTREAM_URL + _API_KEY; docs/engines.md); undefined without one. */
  upstream: UpstreamConfig | undefined;
  /** How upstreams are called, set or not: organizations' own accounts need it without a server-wide upstream too. */
  upstreamCalls: UpstreamCallConfig;
  /** Copies of forwarded tasks' outputs (RUNTRAIL_ARCHIVE_*; docs/engines.md). */
  archive: ArchiveConfig;
  /** Which engine runs which (taskType, model): RUNTRAIL_ROUTES, first match wins; empty means the defaults. */
  routes: RouteRule[];
  /** Seals organizations' own upstream keys at rest (RUNTRAIL_ACCOUNTS_KEY); never logged. */
  accountsKey: Buffer | undefined;
  /** RUNTRAIL_MODEL_MAP: which local model runs a task naming another AIR, before the engines' own mapping. */
  modelMap: ModelMapRule[];
  /** The built-in engine's worker-thread pool. */
  engine: EngineConfig;
  /** An operator's OpenAI-compatible server (RUNTRAIL_OPENAI_*; docs/engines.md). */
  openaiCompatible: OperatorEngineConfig | undefined;
  /** An operator's ComfyUI (RUNTRAIL_COMFYUI_*; docs/engines.md). */
  comfyui: OperatorEngineConfig | undefined;
}

/** A model map rule: tasks (of `taskType`, all when absent) naming an AIR matching `model` run the local model `runs`; null refuses them. */
export interface ModelMapRule {
  taskType?: string;
  model: string;
  runs: string | null;
}

export interface EngineConfig {
  /** Worker threads that run engine operations (RUNTRAIL_ENGINE_THREADS). */
  threads: number;
  /** Operations that may wait for a thread before new ones are refused with queueCapacityExceeded (RUNTRAIL_ENGINE_QUEUE). */
  maxQueue: number;
  /** How much lower than the event loop the pool threads are scheduled (RUNTRAIL_ENGINE_NICE, Linux nice 0–19). */
  niceness: number;
}

/** One routing rule: tasks whose taskType and model AIR match (`*` wildcards; absent matches all) go to `engine`. */
export interface RouteRule {
  taskType?: string;
  model?: string;
  engine: EngineName;
  /** For `engine: "upstream"`: the upstreams to try, in order (`default` and RUNTRAIL_UPSTREAM_FALLBACKS names). */
  upstreams?: string[];
  /** `upstream` only: the caller's organization's upstream account these tasks use (`server`: the server-wide one). */
  account?: string;
}

export const ENGINE_NAMES = ['builtin', 'upstream', 'openai-compatible', 'comfyui'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** How runtrail calls any upstream (the server-wide one, its fallbacks, organizations' own accounts). */
export interface UpstreamCallConfig {
  /** One HTTP attempt's deadline (RUNTRAIL_UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number;
  /** Further attempts after a failure that is safe to retry (RUNTRAIL_UPSTREAM_RETRIES). */
  retries: number;
  retryBackoffMs: number;
  /** Consecutive failures that open the circuit (RUNTRAIL_UPSTREAM_BREAKER_FAILURES). */
  breakerFailures: number;
  /** How long an open circuit fails tasks at once (RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS). */
  breakerCooldownMs: number;
  /** getResponse polling of async tasks upstream (RUNTRAIL_UPSTREAM_POLL_MS) and its overall bound. */
  pollMs: number;
  asyncTimeoutMs: number;
  /** The WebSocket transport's bounds, used when the URL is ws:// or wss:// (RUNTRAIL_UPSTREAM_WS_*). */
  ws: { pingMs: number; deadPeerMs: number; maxInFlight: number; maxBufferedBytes: number };
  /** An organization's account transport (its socket) unused this long is closed (RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS). */
  accountIdleMs: number;
}

/** The server-wide upstream (RUNTRAIL_UPSTREAM_URL + _API_KEY) and its fallbacks. */
export interface UpstreamConfig extends UpstreamCallConfig {
  /** The POST URL, e.g. https://api.runware.ai/v1. */
  url: string;
  /** Sent as `Authorization: Bearer`; never logged, recorded or shown. */
  apiKey: string;
  /** Further upstreams tried in order when one is unavailable (RUNTRAIL_UPSTREAM_FALLBACKS). */
  fallbacks: { name: string; url: string; apiKey: string }[];
}

export interface ArchiveConfig {
  /** The policy of organizations without their own (RUNTRAIL_ARCHIVE_OUTPUTS). */
  defaultPolicy: ArchivePolicy;
  /** The largest output kept whatever the policy (RUNTRAIL_ARCHIVE_MAX_BYTES). */
  maxBytes: number;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
}

export type MediaConfig = { kind: 'folder'; dir: string } | S3MediaConfig;

/** Object storage: RUNTRAIL_MEDIA_URL plus the usual AWS variables (docs/scaling.md). */
export interface S3MediaConfig {
  kind: 's3';
  bucket: string;
  /** Key prefix, empty or ending in `/`. */
  prefix: string;
  /** AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; unset means AWS S3 itself. */
  endpoint: string | undefined;
  region: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key` (RUNTRAIL_S3_FORCE_PATH_STYLE; default on with an endpoint). */
  forcePathStyle: boolean;
  /** From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN); unset: the SDK's own chain (profile, role). Never logged. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** One request's deadline (RUNTRAIL_S3_TIMEOUT_MS). */
  timeoutMs: number;
  /** Attempts per request, the first included (RUNTRAIL_S3_MAX_ATTEMPTS). */
  maxAttempts: number;
}

export interface MediaServingConfig {
  /** RUNTRAIL_MEDIA_SERVE=redirect: answer 302 to a presigned URL of the object (not for SVG, which needs our headers). */
  redirect: boolean;
  /** Lifetime of those URLs (RUNTRAIL_MEDIA_PRESIGN_SECONDS, default 300). */
  presignSeconds: number;
}

/** Flag names as the CLI spells them; each matches an environment variable. */
export interface ConfigFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  mediaDir?: string;
  apiKey?: string;
  maxBodyBytes?: string;
  publicUrl?: string;
  logLevel?: string;
  databaseUrl?: string;
  workers?: string;
}

export interface AsyncConfig {
  /** Queued tasks run concurrently at most (RUNTRAIL_WORKERS). */
  workers: number;
  /** One organization's queued tasks running at once, on all replicas together; 0: no cap, turns only (RUNTRAIL_ORG_WORKERS). */
  orgWorkers: number;
  /** Runs a queued task may start before it ends with taskInterrupted (RUNTRAIL_JOB_MAX_ATTEMPTS). */
  jobMaxAttempts: number;
  /** How long a claim on a queued task holds without renewal (RUNTRAIL_JOB_LEASE_MS); a replica that died loses its claims after this, and its running sync tasks end (PostgreSQL heartbeat). */
  jobLeaseMs: number;
  /** How often idle workers look for work queued by other replicas (RUNTRAIL_JOB_POLL_MS). */
  jobPollMs: number;
  /** A sync task's caller gets syncTimeout after this long; the task keeps running (RUNTRAIL_SYNC_TIMEOUT_MS). */
  syncTimeoutMs: number;
  /** How long SIGTERM waits for running tasks and deliveries before closing (RUNTRAIL_SHUTDOWN_GRACE_MS). */
  shutdownGraceMs: number;
  webhookMaxAttempts: number;
  /** One webhook or upload attempt fails when the receiver has not answered in this long. */
  webhookTimeoutMs: number;
  /** First retry delay; each further retry doubles it, up to webhookBackoffMaxMs, with jitter. */
  webhookBackoffMs: number;
  webhookBackoffMaxMs: number;
  /** One organization's webhook and upload attempts in flight at once, on all replicas together; 0: no cap (RUNTRAIL_WEBHOOK_ORG_CONCURRENCY). */
  webhookOrgConcurrency: number;
}

export class ConfigError extends Error {}

function configuredApiKey(key: string | undefined): string | undefined {
  const problem = key === undefined ? undefined : apiKeyProblem(key);
  if (problem !== undefined) throw new ConfigError(`RUNTRAIL_API_KEY (or --api-key) ${problem}`);
  return key;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): Config {
  const { raw, value, int } = settingReader(env, flags);
  const dataDir = resolve(value('RUNTRAIL_DATA_DIR'));
  const mediaDir = resolve(raw('RUNTRAIL_MEDIA_DIR') ?? join(dataDir, 'media'));
  const pricesFile = raw('RUNTRAIL_PRICES_FILE');
  const media = mediaConfig(env, raw, int, mediaDir);
  const upstreamCalls = upstreamCallConfig(int);
  return {
    port: int('PORT', 0, 65535),
    host: value('HOST'),
    dataDir,
    mediaDir,
    media,
    mediaServing: mediaServing(raw, int, media),
    apiKey: configuredApiKey(raw('RUNTRAIL_API_KEY')),
    maxBodyBytes: int('RUNTRAIL_MAX_BODY_BYTES', 64),
    maxTasksPerRequest: int('RUNTRAIL_MAX_TASKS_PER_REQUEST', 1),
    maxJsonDepth: int('RUNTRAIL_MAX_JSON_DEPTH', 2),
    requestTimeoutMs: int('RUNTRAIL_REQUEST_TIMEOUT_MS', 100),
    publicUrl: (raw('RUNTRAIL_PUBLIC_URL') ?? '').replace(/\/+$/, ''),
    outboundAllow: value('RUNTRAIL_OUTBOUND_ALLOW')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    logLevel: value('RUNTRAIL_LOG_LEVEL'),
    prices: pricesFile ? readPrices(pricesFile) : [],
    databaseUrl: databaseUrl(raw('DATABASE_URL')),
    async: {
      workers: int('RUNTRAIL_WORKERS', 1, 1024),
      orgWorkers: int('RUNTRAIL_ORG_WORKERS', 0, 1024),
      jobMaxAttempts: int('RUNTRAIL_JOB_MAX_ATTEMPTS', 1, 100),
      jobLeaseMs: int('RUNTRAIL_JOB_LEASE_MS', 300),
      jobPollMs: int('RUNTRAIL_JOB_POLL_MS', 10),
      syncTimeoutMs: int('RUNTRAIL_SYNC_TIMEOUT_MS', 1),
      shutdownGraceMs: int('RUNTRAIL_SHUTDOWN_GRACE_MS', 0),
      webhookMaxAttempts: int('RUNTRAIL_WEBHOOK_MAX_ATTEMPTS', 1, 100),
      webhookTimeoutMs: int('RUNTRAIL_WEBHOOK_TIMEOUT_MS', 1),
      webhookBackoffMs: int('RUNTRAIL_WEBHOOK_BACKOFF_MS', 1),
      webhookBackoffMaxMs: int('RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS', 1),
      webhookOrgConcurrency: int('RUNTRAIL_WEBHOOK_ORG_CONCURRENCY', 0, 1024),
    },
    wsIdleMs: int('RUNTRAIL_WS_IDLE_MS', 100),
    wsResumeMs: int('RUNTRAIL_WS_RESUME_MS', 0),
    wsMaxBufferedBytes: int('RUNTRAIL_WS_MAX_BUFFERED_BYTES', 1024),
    wsSendStallMs: int('RUNTRAIL_WS_SEND_STALL_MS', 100),
    metricsToken: raw('RUNTRAIL_METRICS_TOKEN'),
    metricsListen: listenAddress(raw('RUNTRAIL_METRICS_LISTEN'), 'RUNTRAIL_METRICS_LISTEN'),
    retentionDays: positiveNumber(raw('RUNTRAIL_RETENTION_DAYS'), 'RUNTRAIL_RETENTION_DAYS'),
    retentionSweepSeconds: positiveNumber(
      value('RUNTRAIL_RETENTION_SWEEP_SECONDS'),
      'RUNTRAIL_RETENTION_SWEEP_SECONDS',
    ),
    outOfLineBytes: int('RUNTRAIL_OUT_OF_LINE_BYTES', 1024),
    ledgerSigningKey: raw('RUNTRAIL_LEDGER_SIGNING_KEY'),
    upstream: upstreamConfig(raw, upstreamCalls),
    upstreamCalls,
    archive: archiveConfig(value, int),
    routes: readRoutes(raw('RUNTRAIL_ROUTES')),
    accountsKey: accountsKey(raw('RUNTRAIL_ACCOUNTS_KEY')),
    modelMap: readModelMap(raw('RUNTRAIL_MODEL_MAP')),
    engine: {
      // One thread per core unless set (SETTINGS shows it as "one per core").
      threads: integer(
        raw('RUNTRAIL_ENGINE_THREADS') ?? String(Math.max(1, availableParallelism())),
        'RUNTRAIL_ENGINE_THREADS',
        1,
        256,
      ),
      maxQueue: int('RUNTRAIL_ENGINE_QUEUE', 0, 1_000_000),
      niceness: int('RUNTRAIL_ENGINE_NICE', 0, 19),
    },
    openaiCompatible: operatorEngine(raw, 'OPENAI', OPENAI_COMPATIBLE_TASK_TYPES),
    comfyui: operatorEngine(raw, 'COMFYUI', COMFYUI_TASK_TYPES),
  };
}

type RawSetting = (name: SettingName) => string | undefined;
type IntegerSetting = (name: DefaultedSetting, min: number, max?: number) => number;

/**
 * Reads settings through the table (src/settings.ts): a setting's flag first, then its
 * environment variable (an empty one counts as unset), then its default.
 */
function settingReader(env: NodeJS.ProcessEnv, flags: ConfigFlags) {
  const given = flags as Record<string, string | undefined>;
  const raw: RawSetting = (name) => {
    const setting: Setting = SETTINGS[name];
    const v = (setting.flag !== undefined ? given[flagKey(setting.flag)] : undefined) ?? env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const value = (name: DefaultedSetting): string => raw(name) ?? SETTINGS[name].default;
  const int: IntegerSetting = (name, min, max) => integer(value(name), name, min, max);
  return { raw, value, int };
}

function operatorEngine(
  raw: RawSetting,
  prefix: 'OPENAI' | 'COMFYUI',
  taskTypes: readonly string[],
): OperatorEngineConfig | undefined {
  try {
    return operatorEngineConfig(raw, prefix, taskTypes);
  } catch (err) {
    if (err instanceof OperatorConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function upstreamCallConfig(int: IntegerSetting): UpstreamCallConfig {
  return {
    timeoutMs: int('RUNTRAIL_UPSTREAM_TIMEOUT_MS', 1),
    retries: int('RUNTRAIL_UPSTREAM_RETRIES', 0),
    retryBackoffMs: int('RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS', 0),
    breakerFailures: int('RUNTRAIL_UPSTREAM_BREAKER_FAILURES', 1),
    breakerCooldownMs: int('RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS', 0),
    pollMs: int('RUNTRAIL_UPSTREAM_POLL_MS', 1),
    asyncTimeoutMs: int('RUNTRAIL_UPSTREAM_ASYNC_TIMEOUT_MS', 1),
    ws: {
      pingMs: int('RUNTRAIL_UPSTREAM_WS_PING_MS', 10),
      deadPeerMs: int('RUNTRAIL_UPSTREAM_WS_DEAD_PEER_MS', 10),
      maxInFlight: int('RUNTRAIL_UPSTREAM_WS_MAX_IN_FLIGHT', 1),
      maxBufferedBytes: int('RUNTRAIL_UPSTREAM_WS_MAX_BUFFERED_BYTES', 1024),
    },
    accountIdleMs: int('RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS', 1),
  };
}

function upstreamConfig(raw: RawSetting, calls: UpstreamCallConfig): UpstreamConfig | undefined {
  const url = raw('RUNTRAIL_UPSTREAM_URL');
  const apiKey = raw('RUNTRAIL_UPSTREAM_API_KEY');
  if (url === undefined && apiKey === undefined) {
    if (raw('RUNTRAIL_UPSTREAM_FALLBACKS') !== undefined)
      throw new ConfigError(
        'RUNTRAIL_UPSTREAM_FALLBACKS is set, but RUNTRAIL_UPSTREAM_URL is not: fallbacks follow a server-wide upstream',
      );
    return undefined;
  }
  if (url === undefined || apiKey === undefined)
    throw new ConfigError('RUNTRAIL_UPSTREAM_URL and RUNTRAIL_UPSTREAM_API_KEY are set together');
  if (!UPSTREAM_URL.test(url)) throw new ConfigError('RUNTRAIL_UPSTREAM_URL must be an http(s):// or ws(s):// URL');
  return { ...calls, url, apiKey, fallbacks: readFallbacks(raw('RUNTRAIL_UPSTREAM_FALLBACKS')) };
}

const UPSTREAM_URL = /^(https?|wss?):\/\//i;

/**
 * RUNTRAIL_UPSTREAM_FALLBACKS: a JSON array of `{name, url, apiKey}` inline, or the path of a file
 * holding one (a file keeps the keys out of the environment). Names are what routes list.
 */
function readFallbacks(raw: string | undefined): UpstreamConfig['fallbacks'] {
  // The text, or the file it names, holds upstream keys: errors must not quote it.
  const parsed = readJsonArraySetting(raw, 'RUNTRAIL_UPSTREAM_FALLBACKS', 'upstreams', { quote: false });
  const names = new Set<string>(['default']);
  return parsed.map((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const { name, url, apiKey } = e;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name))
      throw new ConfigError(`upstream fallback ${i}: 'name' must be 1–64 letters, digits, '-' or '_'`);
    if (names.has(name)) throw new ConfigError(`upstream fallback ${i}: the name "${name}" is taken`);
    names.add(name);
    if (typeof url !== 'string' || !UPSTREAM_URL.test(url))
      throw new ConfigError(`upstream fallback "${name}": 'url' must be an http(s):// or ws(s):// URL`);
    if (typeof apiKey !== 'string' || apiKey === '')
      throw new ConfigError(`upstream fallback "${name}": 'apiKey' must be a non-empty string`);
    return { name, url, apiKey };
  });
}

function archiveConfig(value: (name: DefaultedSetting) => string, int: IntegerSetting): ArchiveConfig {
  const policy = parseArchivePolicy(value('RUNTRAIL_ARCHIVE_OUTPUTS'));
  if (!policy) throw new ConfigError('RUNTRAIL_ARCHIVE_OUTPUTS must be all, none or a number of bytes above 0');
  return {
    defaultPolicy: policy,
    maxBytes: int('RUNTRAIL_ARCHIVE_MAX_BYTES', 1),
    timeoutMs: int('RUNTRAIL_ARCHIVE_TIMEOUT_MS', 1),
    maxAttempts: int('RUNTRAIL_ARCHIVE_ATTEMPTS', 1, 100),
    backoffMs: int('RUNTRAIL_ARCHIVE_BACKOFF_MS', 1),
  };
}

/**
 * Where media live. The AWS variables are the SDK's own, read as every AWS tool reads them, so they
 * are not runtrail settings; the RUNTRAIL_S3_* ones are.
 */
function mediaConfig(env: NodeJS.ProcessEnv, raw: RawSetting, int: IntegerSetting, dir: string): MediaConfig {
  const aws = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const url = raw('RUNTRAIL_MEDIA_URL');
  if (url === undefined) return { kind: 'folder', dir };
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m?.[1]) throw new ConfigError(`RUNTRAIL_MEDIA_URL must be s3://bucket or s3://bucket/prefix, got "${url}"`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  const endpoint = aws('AWS_ENDPOINT_URL_S3') ?? aws('AWS_ENDPOINT_URL');
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw new ConfigError('AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL must be an http(s) URL');
  }
  const accessKeyId = aws('AWS_ACCESS_KEY_ID');
  const secretAccessKey = aws('AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set together');
  }
  const sessionToken = aws('AWS_SESSION_TOKEN');
  const pathStyle = raw('RUNTRAIL_S3_FORCE_PATH_STYLE');
  if (pathStyle !== undefined && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new ConfigError('RUNTRAIL_S3_FORCE_PATH_STYLE must be true or false');
  }
  return {
    kind: 's3',
    bucket: m[1],
    prefix: prefix === '' ? '' : `${prefix}/`,
    endpoint,
    region: aws('AWS_REGION') ?? aws('AWS_DEFAULT_REGION') ?? 'us-east-1',
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : pathStyle === 'true',
    credentials:
      accessKeyId !== undefined && secretAccessKey !== undefined
        ? { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
        : undefined,
    timeoutMs: int('RUNTRAIL_S3_TIMEOUT_MS', 100),
    maxAttempts: int('RUNTRAIL_S3_MAX_ATTEMPTS', 1, 10),
  };
}

function mediaServing(raw: RawSetting, int: IntegerSetting, media: MediaConfig): MediaServingConfig {
  const serve = raw('RUNTRAIL_MEDIA_SERVE') ?? SETTINGS.RUNTRAIL_MEDIA_SERVE.default;
  if (serve !== 'stream' && serve !== 'redirect') {
    throw new ConfigError(`RUNTRAIL_MEDIA_SERVE must be stream or redirect, got "${serve}"`);
  }
  if (serve === 'redirect' && media.kind !== 's3') {
    throw new ConfigError('RUNTRAIL_MEDIA_SERVE=redirect needs object storage (RUNTRAIL_MEDIA_URL=s3://…)');
  }
  return { redirect: serve === 'redirect', presignSeconds: int('RUNTRAIL_MEDIA_PRESIGN_SECONDS', 1, 604800) };
}

/** RUNTRAIL_ROUTES: a JSON array of rules inline, or the path of a file holding one. */
function readRoutes(raw: string | undefined): RouteRule[] {
  const parsed = readJsonArraySetting(raw, 'RUNTRAIL_ROUTES', 'routing rules', { quote: true });
  return parsed.map((r: unknown, i) => {
    const rule = (r ?? {}) as Record<string, unknown>;
    const optional = (k: string) => (rule[k] === undefined || typeof rule[k] === 'string' ? rule[k] : bad(k));
    const bad = (k: string): never => {
      throw new ConfigError(`routing rule ${i}: '${k}' must be a string`);
    };
    if (!ENGINE_NAMES.includes(rule['engine'] as EngineName))
      throw new ConfigError(
        `routing rule ${i}: 'engine' must be one of ${ENGINE_NAMES.map((e) => `"${e}"`).join(', ')}`,
      );
    const out: RouteRule = { engine: rule['engine'] as EngineName };
    const taskType = optional('taskType');
    const model = optional('model');
    const account = optional('account');
    if (taskType !== undefined) out.taskType = taskType;
    if (model !== undefined) out.model = model;
    const upstreams = rule['upstreams'];
    if (upstreams !== undefined) {
      if (out.engine !== 'upstream')
        throw new ConfigError(`routing rule ${i}: 'upstreams' is for rules whose engine is "upstream"`);
      if (!Array.isArray(upstreams) || upstreams.length === 0 || upstreams.some((u) => typeof u !== 'string'))
        throw new ConfigError(`routing rule ${i}: 'upstreams' must be a non-empty array of upstream names`);
      out.upstreams = upstreams as string[];
    }
    if (account !== undefined) {
      if (out.engine !== 'upstream') throw new ConfigError(`routing rule ${i}: 'account' is for "upstream" rules only`);
      const problem = accountNameProblem(account);
      if (problem !== undefined) throw new ConfigError(`routing rule ${i}: 'account' ${problem}`);
      out.account = account;
    }
    return out;
  });
}

/**
 * A setting holding a JSON array: inline when its text starts with `[`, else in the file its text
 * names ([] when unset). `quote: false` keeps the setting's text and the file's out of the error:
 * a JSON error's own message quotes what it choked on and a read error's names the "path", which
 * may be inline text that does not start with `[`; only the error's kind or code is named then.
 */
function readJsonArraySetting(
  raw: string | undefined,
  name: SettingName,
  arrayOf: string,
  { quote }: { quote: boolean },
): unknown[] {
  if (raw === undefined) return [];
  const problem = (what: string, err: unknown): ConfigError => {
    const e = err as NodeJS.ErrnoException;
    const detail = quote ? e.message : (e.code ?? e.name);
    return new ConfigError(`${name} must be a JSON array or the path of a JSON file holding one (${what}: ${detail})`);
  };
  const inline = raw.trimStart().startsWith('[');
  let text = raw;
  if (!inline) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (err) {
      throw problem('it does not start with [ and reading it as a file failed', err);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw problem(inline ? 'parsing it as JSON failed' : 'parsing the file it names as JSON failed', err);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(`${name} must be a JSON array of ${arrayOf}`);
  return parsed;
}

/** RUNTRAIL_ACCOUNTS_KEY: the 32-byte key sealing organizations' upstream keys, or undefined when unset. */
function accountsKey(raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseAccountsKey(raw);
  } catch (err) {
    throw new ConfigError(`RUNTRAIL_ACCOUNTS_KEY ${(err as Error).message}`);
  }
}

/** RUNTRAIL_MODEL_MAP: a JSON array of `{taskType?, model, runs}` inline, or the path of a file holding one. */
function readModelMap(raw: string | undefined): ModelMapRule[] {
  const parsed = readJsonArraySetting(raw, 'RUNTRAIL_MODEL_MAP', '{taskType, model, runs} rules', { quote: true });
  return parsed.map((r: unknown, i) => {
    const rule = (r ?? {}) as Record<string, unknown>;
    if (typeof rule['model'] !== 'string' || rule['model'] === '')
      throw new ConfigError(`model map rule ${i}: 'model' must be an AIR or a pattern`);
    if (rule['runs'] !== null && (typeof rule['runs'] !== 'string' || !rule['runs'].startsWith('runtrail:'))) {
      throw new ConfigError(
        `model map rule ${i}: 'runs' must be a runtrail: AIR (see modelSearch) or null to refuse the model`,
      );
    }
    if (rule['taskType'] !== undefined && typeof rule['taskType'] !== 'string')
      throw new ConfigError(`model map rule ${i}: 'taskType' must be a string`);
    const out: ModelMapRule = { model: rule['model'], runs: rule['runs'] };
    if (rule['taskType'] !== undefined) out.taskType = rule['taskType'];
    return out;
  });
}

function integer(raw: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A number above zero, fractions allowed (`0.5` days); undefined when unset. */
export function positiveNumber(raw: string, name: string): number;
export function positiveNumber(raw: string | undefined, name: string): number | undefined;
export function positiveNumber(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !Number.isFinite(n) || n <= 0)
    throw new ConfigError(`${name} must be a number above 0, got "${raw}"`);
  return n;
}

/** `host:port` (IPv6 hosts in brackets), or a bare port on 127.0.0.1. */
function listenAddress(raw: string | undefined, name: string): { host: string; port: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d+)$/.exec(raw) ?? /^()()(\d+)$/.exec(raw);
  if (!m) throw new ConfigError(`${name} must be host:port (or a port), got "${raw}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port: integer(m[3]!, name, 0, 65535) };
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  return raw;
}

function readPrices(file: string): PriceRule[] {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new ConfigError('RUNTRAIL_PRICES_FILE must hold a JSON array of price rules');
  return parsed.map((r: unknown, i) => {
    const rule = r as Partial<PriceRule>;
    if (typeof rule.model !== 'string' || typeof rule.taskType !== 'string' || typeof rule.perItem !== 'number') {
      throw new ConfigError(`price rule ${i} needs string model, string taskType and number perItem`);
    }
    return { model: rule.model, taskType: rule.taskType, perItem: rule.perItem };
  });
}
