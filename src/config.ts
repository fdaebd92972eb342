// The one place that reads process.env: environment variables and CLI flags become one typed,
// validated config object. Flags win over the environment.

import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { apiKeyProblem } from './ledger/api-keys.js';
import { OperatorConfigError, operatorEngineConfig, type OperatorEngineConfig } from './engines/remote/operator-settings.js';

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
  /** When set, organization `default` holds this key from start (scripts and tests). */
  apiKey: string | undefined;
  maxBodyBytes: number;
  maxTasksPerRequest: number;
  maxJsonDepth: number;
  /** A request whose headers and body have not all arrived after this long is answered requestTimeout (RUNTRAIL_REQUEST_TIMEOUT_MS, default 60 s). */
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
  /** A WebSocket with no traffic either way for this long is closed (RUNTRAIL_WS_IDLE_MS, default 120 s). */
  wsIdleMs: number;
  /** How long frames a closed WebSocket could not receive are kept for a resumed session (RUNTRAIL_WS_RESUME_MS, default 120 s). */
  wsResumeMs: number;
  /** Stop reading a WebSocket whose unsent frames exceed this many bytes (RUNTRAIL_WS_MAX_BUFFERED_BYTES, default 8 MiB). */
  wsMaxBufferedBytes: number;
  /** Close (4001) a WebSocket that stays over that bound without sending anything for this long (RUNTRAIL_WS_SEND_STALL_MS, default 30 s). */
  wsSendStallMs: number;
  /** GET /metrics needs `Authorization: Bearer <token>` when set (RUNTRAIL_METRICS_TOKEN). */
  metricsToken: string | undefined;
  /** `host:port` where /metrics is served instead of the API port (RUNTRAIL_METRICS_LISTEN). */
  metricsListen: { host: string; port: number } | undefined;
  /** Days a task is kept for organizations without their own setting (RUNTRAIL_RETENTION_DAYS); undefined keeps them forever. */
  retentionDays: number | undefined;
  /** Seconds between two runs of the retention sweeper (RUNTRAIL_RETENTION_SWEEP_SECONDS). */
  retentionSweepSeconds: number;
  /** A Runware-compatible API tasks are forwarded to (RUNTRAIL_UPSTREAM_URL + _API_KEY; docs/engines.md). */
  upstream: UpstreamConfig | undefined;
  /** Which engine runs which (taskType, model): RUNTRAIL_ROUTES, first match wins; empty means the defaults. */
  routes: RouteRule[];
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
  /** Worker threads that run engine operations (RUNTRAIL_ENGINE_THREADS, default one per core). */
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
}

export const ENGINE_NAMES = ['builtin', 'upstream', 'openai-compatible', 'comfyui'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface UpstreamConfig {
  /** The POST URL, e.g. https://api.runware.ai/v1. */
  url: string;
  /** Sent as `Authorization: Bearer`; never logged, recorded or shown. */
  apiKey: string;
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
  const pick = (flag: string | undefined, name: string): string | undefined => {
    const v = flag ?? env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const port = integer(pick(flags.port, 'PORT') ?? '8080', 'PORT', 0, 65535);
  const host = pick(flags.host, 'HOST') ?? '127.0.0.1';
  const dataDir = resolve(pick(flags.dataDir, 'RUNTRAIL_DATA_DIR') ?? './data');
  const mediaDir = resolve(pick(flags.mediaDir, 'RUNTRAIL_MEDIA_DIR') ?? join(dataDir, 'media'));
  const pricesFile = pick(undefined, 'RUNTRAIL_PRICES_FILE');
  return {
    port,
    host,
    dataDir,
    mediaDir,
    apiKey: configuredApiKey(pick(flags.apiKey, 'RUNTRAIL_API_KEY')),
    maxBodyBytes: integer(pick(flags.maxBodyBytes, 'RUNTRAIL_MAX_BODY_BYTES') ?? String(32 * 1024 * 1024), 'RUNTRAIL_MAX_BODY_BYTES', 64),
    maxTasksPerRequest: integer(pick(undefined, 'RUNTRAIL_MAX_TASKS_PER_REQUEST') ?? '100', 'RUNTRAIL_MAX_TASKS_PER_REQUEST', 1),
    maxJsonDepth: integer(pick(undefined, 'RUNTRAIL_MAX_JSON_DEPTH') ?? '32', 'RUNTRAIL_MAX_JSON_DEPTH', 2),
    requestTimeoutMs: integer(pick(undefined, 'RUNTRAIL_REQUEST_TIMEOUT_MS') ?? '60000', 'RUNTRAIL_REQUEST_TIMEOUT_MS', 100),
    publicUrl: (pick(flags.publicUrl, 'RUNTRAIL_PUBLIC_URL') ?? '').replace(/\/+$/, ''),
    outboundAllow: (pick(undefined, 'RUNTRAIL_OUTBOUND_ALLOW') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    logLevel: pick(flags.logLevel, 'RUNTRAIL_LOG_LEVEL') ?? 'info',
    prices: pricesFile ? readPrices(pricesFile) : [],
    databaseUrl: databaseUrl(pick(flags.databaseUrl, 'DATABASE_URL')),
    async: {
      workers: integer(pick(flags.workers, 'RUNTRAIL_WORKERS') ?? '4', 'RUNTRAIL_WORKERS', 1, 1024),
      orgWorkers: integer(pick(undefined, 'RUNTRAIL_ORG_WORKERS') ?? '0', 'RUNTRAIL_ORG_WORKERS', 0, 1024),
      jobMaxAttempts: integer(pick(undefined, 'RUNTRAIL_JOB_MAX_ATTEMPTS') ?? '3', 'RUNTRAIL_JOB_MAX_ATTEMPTS', 1, 100),
      jobLeaseMs: integer(pick(undefined, 'RUNTRAIL_JOB_LEASE_MS') ?? '60000', 'RUNTRAIL_JOB_LEASE_MS', 300),
      jobPollMs: integer(pick(undefined, 'RUNTRAIL_JOB_POLL_MS') ?? '1000', 'RUNTRAIL_JOB_POLL_MS', 10),
      syncTimeoutMs: integer(pick(undefined, 'RUNTRAIL_SYNC_TIMEOUT_MS') ?? '120000', 'RUNTRAIL_SYNC_TIMEOUT_MS', 1),
      shutdownGraceMs: integer(pick(undefined, 'RUNTRAIL_SHUTDOWN_GRACE_MS') ?? '8000', 'RUNTRAIL_SHUTDOWN_GRACE_MS', 0),
      webhookMaxAttempts: integer(pick(undefined, 'RUNTRAIL_WEBHOOK_MAX_ATTEMPTS') ?? '10', 'RUNTRAIL_WEBHOOK_MAX_ATTEMPTS', 1, 100),
      webhookTimeoutMs: integer(pick(undefined, 'RUNTRAIL_WEBHOOK_TIMEOUT_MS') ?? '5000', 'RUNTRAIL_WEBHOOK_TIMEOUT_MS', 1),
      webhookBackoffMs: integer(pick(undefined, 'RUNTRAIL_WEBHOOK_BACKOFF_MS') ?? '250', 'RUNTRAIL_WEBHOOK_BACKOFF_MS', 1),
      webhookBackoffMaxMs: integer(pick(undefined, 'RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS') ?? '60000', 'RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS', 1),
      webhookOrgConcurrency: integer(pick(undefined, 'RUNTRAIL_WEBHOOK_ORG_CONCURRENCY') ?? '8', 'RUNTRAIL_WEBHOOK_ORG_CONCURRENCY', 0, 1024),
    },
    wsIdleMs: integer(pick(undefined, 'RUNTRAIL_WS_IDLE_MS') ?? '120000', 'RUNTRAIL_WS_IDLE_MS', 100),
    wsResumeMs: integer(pick(undefined, 'RUNTRAIL_WS_RESUME_MS') ?? '120000', 'RUNTRAIL_WS_RESUME_MS', 0),
    wsMaxBufferedBytes: integer(pick(undefined, 'RUNTRAIL_WS_MAX_BUFFERED_BYTES') ?? String(8 * 1024 * 1024), 'RUNTRAIL_WS_MAX_BUFFERED_BYTES', 1024),
    wsSendStallMs: integer(pick(undefined, 'RUNTRAIL_WS_SEND_STALL_MS') ?? '30000', 'RUNTRAIL_WS_SEND_STALL_MS', 100),
    metricsToken: pick(undefined, 'RUNTRAIL_METRICS_TOKEN'),
    metricsListen: listenAddress(pick(undefined, 'RUNTRAIL_METRICS_LISTEN'), 'RUNTRAIL_METRICS_LISTEN'),
    retentionDays: positiveNumber(pick(undefined, 'RUNTRAIL_RETENTION_DAYS'), 'RUNTRAIL_RETENTION_DAYS'),
    retentionSweepSeconds: positiveNumber(pick(undefined, 'RUNTRAIL_RETENTION_SWEEP_SECONDS'), 'RUNTRAIL_RETENTION_SWEEP_SECONDS') ?? 600,
    upstream: upstreamConfig(pick),
    routes: readRoutes(pick(undefined, 'RUNTRAIL_ROUTES')),
    modelMap: readModelMap(pick(undefined, 'RUNTRAIL_MODEL_MAP')),
    engine: {
      threads: integer(pick(undefined, 'RUNTRAIL_ENGINE_THREADS') ?? String(Math.max(1, availableParallelism())), 'RUNTRAIL_ENGINE_THREADS', 1, 256),
      maxQueue: integer(pick(undefined, 'RUNTRAIL_ENGINE_QUEUE') ?? '10000', 'RUNTRAIL_ENGINE_QUEUE', 0, 1_000_000),
      niceness: integer(pick(undefined, 'RUNTRAIL_ENGINE_NICE') ?? '0', 'RUNTRAIL_ENGINE_NICE', 0, 19),
    },
    openaiCompatible: operatorEngine(pick, 'OPENAI', OPENAI_COMPATIBLE_TASK_TYPES),
    comfyui: operatorEngine(pick, 'COMFYUI', COMFYUI_TASK_TYPES),
  };
}

function operatorEngine(pick: (flag: string | undefined, name: string) => string | undefined, prefix: 'OPENAI' | 'COMFYUI', taskTypes: readonly string[]): OperatorEngineConfig | undefined {
  try {
    return operatorEngineConfig(pick, prefix, taskTypes);
  } catch (err) {
    if (err instanceof OperatorConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function upstreamConfig(pick: (flag: string | undefined, name: string) => string | undefined): UpstreamConfig | undefined {
  const url = pick(undefined, 'RUNTRAIL_UPSTREAM_URL');
  const apiKey = pick(undefined, 'RUNTRAIL_UPSTREAM_API_KEY');
  if (url === undefined && apiKey === undefined) return undefined;
  if (url === undefined || apiKey === undefined) throw new ConfigError('RUNTRAIL_UPSTREAM_URL and RUNTRAIL_UPSTREAM_API_KEY are set together');
  if (!/^https?:\/\//.test(url)) throw new ConfigError('RUNTRAIL_UPSTREAM_URL must be an http(s) URL');
  const n = (name: string, fallback: string, min: number) => integer(pick(undefined, name) ?? fallback, name, min);
  return {
    url,
    apiKey,
    timeoutMs: n('RUNTRAIL_UPSTREAM_TIMEOUT_MS', '100000', 1),
    retries: n('RUNTRAIL_UPSTREAM_RETRIES', '2', 0),
    retryBackoffMs: n('RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS', '250', 0),
    breakerFailures: n('RUNTRAIL_UPSTREAM_BREAKER_FAILURES', '5', 1),
    breakerCooldownMs: n('RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS', '30000', 0),
    pollMs: n('RUNTRAIL_UPSTREAM_POLL_MS', '1000', 1),
    asyncTimeoutMs: n('RUNTRAIL_UPSTREAM_ASYNC_TIMEOUT_MS', '600000', 1),
  };
}

/** RUNTRAIL_ROUTES: a JSON array of rules inline, or the path of a file holding one. */
function readRoutes(raw: string | undefined): RouteRule[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.trimStart().startsWith('[') ? raw : readFileSync(raw, 'utf8'));
  } catch (err) {
    throw new ConfigError(`RUNTRAIL_ROUTES must be a JSON array or the path of a JSON file holding one (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError('RUNTRAIL_ROUTES must be a JSON array of routing rules');
  return parsed.map((r: unknown, i) => {
    const rule = (r ?? {}) as Record<string, unknown>;
    const optional = (k: string) => (rule[k] === undefined || typeof rule[k] === 'string' ? (rule[k] as string | undefined) : bad(k));
    const bad = (k: string): never => {
      throw new ConfigError(`routing rule ${i}: '${k}' must be a string`);
    };
    if (!ENGINE_NAMES.includes(rule['engine'] as EngineName)) throw new ConfigError(`routing rule ${i}: 'engine' must be one of ${ENGINE_NAMES.map((e) => `"${e}"`).join(', ')}`);
    const out: RouteRule = { engine: rule['engine'] as EngineName };
    const taskType = optional('taskType');
    const model = optional('model');
    if (taskType !== undefined) out.taskType = taskType;
    if (model !== undefined) out.model = model;
    return out;
  });
}

/** RUNTRAIL_MODEL_MAP: a JSON array of `{taskType?, model, runs}` inline, or the path of a file holding one. */
function readModelMap(raw: string | undefined): ModelMapRule[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.trimStart().startsWith('[') ? raw : readFileSync(raw, 'utf8'));
  } catch (err) {
    throw new ConfigError(`RUNTRAIL_MODEL_MAP must be a JSON array or the path of a JSON file holding one (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError('RUNTRAIL_MODEL_MAP must be a JSON array of {taskType, model, runs} rules');
  return parsed.map((r: unknown, i) => {
    const rule = (r ?? {}) as Record<string, unknown>;
    if (typeof rule['model'] !== 'string' || rule['model'] === '') throw new ConfigError(`model map rule ${i}: 'model' must be an AIR or a pattern`);
    if (rule['runs'] !== null && (typeof rule['runs'] !== 'string' || !rule['runs'].startsWith('runtrail:'))) {
      throw new ConfigError(`model map rule ${i}: 'runs' must be a runtrail: AIR (see modelSearch) or null to refuse the model`);
    }
    if (rule['taskType'] !== undefined && typeof rule['taskType'] !== 'string') throw new ConfigError(`model map rule ${i}: 'taskType' must be a string`);
    const out: ModelMapRule = { model: rule['model'], runs: rule['runs'] as string | null };
    if (rule['taskType'] !== undefined) out.taskType = rule['taskType'] as string;
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
export function positiveNumber(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a number above 0, got "${raw}"`);
  return n;
}

/** `host:port` (IPv6 hosts in brackets), or a bare port on 127.0.0.1. */
function listenAddress(raw: string | undefined, name: string): { host: string; port: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d+)$/.exec(raw) ?? /^()()(\d+)$/.exec(raw);
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
