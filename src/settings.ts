// Every setting runtrail reads, in one table: its environment variable, its `runtrail serve`
// flag if it has one, its default (as it would be written in the environment) with its unit,
// and what it does. src/config.ts reads settings only through this table, the serve command's
// flags and help come from it, and a test checks the README's configuration table against it
// both ways (names, flags, defaults and descriptions).

/** One setting. `default` is absent for a setting that is unset by default or computed at start. */
export interface Setting {
  /** The `runtrail serve` flag that sets it instead of the environment (flags win), with its value's name. */
  readonly flag?: `--${string}`;
  /** The value an unset setting takes, written as in the environment. */
  readonly default?: string;
  /** The unit of the value, when it has one. */
  readonly unit?: 'ms' | 's' | 'bytes' | 'days';
  /** A reading aid the README shows beside the default (`32 MiB`). */
  readonly aside?: string;
  /** How the README shows a default that is computed at start, or that no value stands for. */
  readonly shown?: string;
  /** What it does (Markdown, as the README's table shows it). */
  readonly description: string;
}

export const SETTINGS = {
  PORT: {
    flag: '--port <port>',
    default: '8080',
    description: 'port to listen on (`0` picks a free one)',
  },
  HOST: {
    flag: '--host <host>',
    default: '127.0.0.1',
    description: 'address to bind',
  },
  RUNTRAIL_DATA_DIR: {
    flag: '--data-dir <dir>',
    default: './data',
    description: 'where the SQLite database lives; one server per folder (a second one exits, the CLI works beside it)',
  },
  RUNTRAIL_MEDIA_DIR: {
    flag: '--media-dir <dir>',
    shown: '`<data dir>/media`',
    description:
      'where images live when `RUNTRAIL_MEDIA_URL` is unset (replicas on one machine, or on a shared file system, may ' +
      'share one folder)',
  },
  RUNTRAIL_MEDIA_URL: {
    description:
      '`s3://bucket` or `s3://bucket/prefix`: keep media in S3-compatible object storage instead (AWS S3, Ceph RGW, MinIO…); the bucket must exist, the server checks it and the credentials at start ([docs/scaling.md](docs/scaling.md))',
  },
  RUNTRAIL_S3_FORCE_PATH_STYLE: {
    shown: '`true` with an endpoint, else `false`',
    description: '`http://host/bucket/key` addressing, which self-hosted stores need',
  },
  RUNTRAIL_S3_TIMEOUT_MS: {
    default: '10000',
    unit: 'ms',
    description: "one object-store request's deadline; a task whose upload fails gets `serviceUnavailable`",
  },
  RUNTRAIL_S3_MAX_ATTEMPTS: {
    default: '2',
    description: 'attempts per object-store request, the first included',
  },
  RUNTRAIL_MEDIA_SERVE: {
    default: 'stream',
    description:
      '`redirect` (object storage only): `GET /media/…` answers 302 to a presigned URL of the object instead of streaming it (SVG is always streamed, with its sandboxing headers)',
  },
  RUNTRAIL_MEDIA_PRESIGN_SECONDS: {
    default: '300',
    unit: 's',
    description: 'lifetime of those presigned URLs',
  },
  DATABASE_URL: {
    flag: '--database-url <url>',
    description:
      '`postgres://…` keeps everything in PostgreSQL instead of SQLite; any number of replicas may share it ' +
      '([docs/scaling.md](docs/scaling.md))',
  },
  RUNTRAIL_API_KEY: {
    flag: '--api-key <key>',
    description:
      'if set, organization `default` holds this key from start (scripts, tests); 32–512 printable ASCII ' +
      'characters without spaces, else the server does not start',
  },
  RUNTRAIL_MAX_BODY_BYTES: {
    flag: '--max-body-bytes <n>',
    default: '33554432',
    unit: 'bytes',
    aside: '32 MiB',
    description: 'largest request body; larger gets 413 `payloadTooLarge`',
  },
  RUNTRAIL_PUBLIC_URL: {
    flag: '--public-url <url>',
    shown: '`http://HOST:PORT`',
    description: 'base of the media URLs handed out',
  },
  RUNTRAIL_LOG_LEVEL: {
    flag: '--log-level <level>',
    default: 'info',
    description: 'pino level; JSON logs go to stderr',
  },
  RUNTRAIL_MAX_TASKS_PER_REQUEST: {
    default: '100',
    description: 'tasks per request; more gets `tooManyTasks`',
  },
  RUNTRAIL_MAX_JSON_DEPTH: {
    default: '32',
    description: 'nesting depth; deeper gets `payloadTooDeep`',
  },
  RUNTRAIL_REQUEST_TIMEOUT_MS: {
    default: '60000',
    unit: 'ms',
    description:
      'a request whose headers and body have not all arrived after this long gets 408 `requestTimeout` and its ' +
      'connection is closed',
  },
  RUNTRAIL_OUTBOUND_ALLOW: {
    default: '',
    description:
      'comma-separated hosts, IPs or CIDRs that image URLs may be fetched from, and that webhooks and uploads ' +
      'may reach although private',
  },
  RUNTRAIL_PRICES_FILE: {
    shown: "each task type's default",
    description:
      'JSON array of `{model, taskType, perItem}` rules (`model` may use `*`) for `cost`; they come before the ' +
      "task types' default prices",
  },
  RUNTRAIL_ENGINE_THREADS: {
    shown: 'one per core',
    description: 'worker threads that run engine work (renders, resampling, models) off the event loop',
  },
  RUNTRAIL_ENGINE_QUEUE: {
    default: '10000',
    description:
      'engine operations (one per result) that may wait for a thread; past threads + this, results get 429 ' +
      '`queueCapacityExceeded`',
  },
  RUNTRAIL_ENGINE_NICE: {
    default: '0',
    description:
      'Linux nice increment of the engine threads (0–19): raise it to favour the event loop over engine work on ' +
      'a dedicated machine',
  },
  RUNTRAIL_MODEL_MAP: {
    shown: "each model's defaults",
    description:
      'which local model runs a task naming another AIR: JSON array of `{taskType?, model, runs}` (`model` may ' +
      'use `*`, `runs` a `runtrail:` AIR or `null` to refuse), inline or a file path; first match wins, before ' +
      'the built-in defaults ([docs/engines.md](docs/engines.md))',
  },
  RUNTRAIL_WS_IDLE_MS: {
    default: '120000',
    unit: 'ms',
    description: 'a WebSocket with no traffic either way for this long is closed',
  },
  RUNTRAIL_WS_RESUME_MS: {
    default: '120000',
    unit: 'ms',
    description: 'how long frames a dropped WebSocket missed are kept for a resumed session',
  },
  RUNTRAIL_WS_MAX_BUFFERED_BYTES: {
    default: '8388608',
    unit: 'bytes',
    aside: '8 MiB',
    description: 'a WebSocket whose unsent frames exceed this is no longer read until they drain (backpressure)',
  },
  RUNTRAIL_WS_SEND_STALL_MS: {
    default: '30000',
    unit: 'ms',
    description:
      'a WebSocket over that bound that drains nothing for this long is closed (4001): its client does not read',
  },
  RUNTRAIL_METRICS_TOKEN: {
    description: '`GET /metrics` then needs `Authorization: Bearer <token>`',
  },
  RUNTRAIL_METRICS_LISTEN: {
    description: '`host:port` (or a port on 127.0.0.1) where `/metrics` is served instead of the API port',
  },
  RUNTRAIL_RETENTION_DAYS: {
    unit: 'days',
    shown: 'forever',
    description: 'days tasks are kept for organizations without their own retention (fractions allowed)',
  },
  RUNTRAIL_RETENTION_SWEEP_SECONDS: {
    default: '600',
    unit: 's',
    description: 'how often the retention sweeper runs',
  },
  RUNTRAIL_OUT_OF_LINE_BYTES: {
    default: '65536',
    unit: 'bytes',
    aside: '64 KiB',
    description:
      'request and response texts larger than this (and base64 runs of 8 KiB or more in any text) are stored out of line, ' +
      'deduplicated, in the ledger\'s blob table (docs/performance.md, "Large bodies")',
  },
  RUNTRAIL_LEDGER_SIGNING_KEY: {
    shown: 'generated into `<data dir>/ledger-signing-key.pem`',
    description:
      'the Ed25519 private key (PKCS#8 PEM, or its DER in base64) that signs ledger checkpoints, export proofs and deletion receipts; replicas must share one ([docs/ledger-integrity.md](docs/ledger-integrity.md))',
  },
  RUNTRAIL_WORKERS: {
    flag: '--workers <n>',
    default: '4',
    description: 'async tasks run at once',
  },
  RUNTRAIL_ORG_WORKERS: {
    default: '0',
    description:
      "one organization's async tasks running at once, all replicas together (0: no cap; organizations always " +
      'take turns; docs/async.md)',
  },
  RUNTRAIL_JOB_MAX_ATTEMPTS: {
    default: '3',
    description: 'runs an async task may start (crashes count) before it ends with `taskInterrupted`',
  },
  RUNTRAIL_JOB_LEASE_MS: {
    default: '60000',
    unit: 'ms',
    description:
      "a claim on an async task, renewed while it runs; a dead replica's claims are taken over after this, and " +
      '(PostgreSQL) its running sync tasks end as `taskInterrupted`',
  },
  RUNTRAIL_JOB_POLL_MS: {
    default: '1000',
    unit: 'ms',
    description: 'how often idle workers look for tasks queued by other replicas',
  },
  RUNTRAIL_SYNC_TIMEOUT_MS: {
    default: '120000',
    unit: 'ms',
    description: "a sync task's caller gets `syncTimeout` after this; the task keeps running",
  },
  RUNTRAIL_SHUTDOWN_GRACE_MS: {
    default: '8000',
    unit: 'ms',
    description: 'how long SIGTERM waits for running tasks and deliveries',
  },
  RUNTRAIL_WEBHOOK_MAX_ATTEMPTS: {
    default: '10',
    description: 'attempts per webhook POST or upload PUT',
  },
  RUNTRAIL_WEBHOOK_TIMEOUT_MS: {
    default: '5000',
    unit: 'ms',
    description: "one attempt's deadline",
  },
  RUNTRAIL_WEBHOOK_ORG_CONCURRENCY: {
    default: '8',
    description: "one organization's webhook/upload attempts under way at once, all replicas together (0: no cap)",
  },
  RUNTRAIL_WEBHOOK_BACKOFF_MS: {
    default: '250',
    unit: 'ms',
    description: 'first retry delay (doubling, with jitter)',
  },
  RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS: {
    default: '60000',
    unit: 'ms',
    description: 'longest retry delay',
  },
  RUNTRAIL_UPSTREAM_URL: {
    description:
      "a Runware-compatible API (`https://api.runware.ai/v1`, another runtrail's `/v1`) to forward tasks to; " +
      'with the key, every task except `runtrail:` models goes there; a `wss://` (or `ws://`) URL such as ' +
      '`wss://ws-api.runware.ai/v1` keeps one persistent WebSocket instead ([docs/engines.md](docs/engines.md))',
  },
  RUNTRAIL_UPSTREAM_API_KEY: {
    description: "runtrail's key for that upstream (Bearer); never recorded, logged or shown",
  },
  RUNTRAIL_ROUTES: {
    shown: '`runtrail:*` here, the rest upstream',
    description:
      'routing rules `[{"taskType","model","engine","account","upstreams"}]` (`*` wildcards, first match wins; `engine` ' +
      "`builtin`, `upstream`, `openai-compatible` or `comfyui`; an upstream rule may name the organization's upstream " +
      '`account` and list `"upstreams"` to try in order), inline JSON or a file path',
  },
  RUNTRAIL_ACCOUNTS_KEY: {
    description:
      "32 random bytes (64 hex digits or base64; `openssl rand -hex 32`) that seal organizations' own upstream keys " +
      '(`runtrail keys upstream`) at rest with AES-256-GCM; the server and the CLI need the same one; never logged or shown',
  },
  RUNTRAIL_UPSTREAM_TIMEOUT_MS: {
    default: '100000',
    unit: 'ms',
    description:
      "one upstream attempt's deadline (below the sync time limit, so the caller gets `timeoutProvider` rather " +
      'than `syncTimeout`)',
  },
  RUNTRAIL_UPSTREAM_RETRIES: {
    default: '2',
    description: 'further attempts where a retry is safe (refused connections, 429, 502–504)',
  },
  RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: {
    default: '250',
    unit: 'ms',
    description: 'first upstream retry delay, doubling',
  },
  RUNTRAIL_UPSTREAM_BREAKER_FAILURES: {
    default: '5',
    description: 'consecutive upstream failures that open the circuit',
  },
  RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS: {
    default: '30000',
    unit: 'ms',
    description: 'how long an open circuit fails tasks fast with `providerUnavailable`',
  },
  RUNTRAIL_UPSTREAM_POLL_MS: {
    default: '1000',
    unit: 'ms',
    description: '`getResponse` polling interval of async tasks upstream',
  },
  RUNTRAIL_UPSTREAM_ASYNC_TIMEOUT_MS: {
    default: '600000',
    unit: 'ms',
    description: 'how long an async task may run upstream',
  },
  RUNTRAIL_UPSTREAM_FALLBACKS: {
    description:
      'further upstreams `[{"name","url","apiKey"}]` (inline JSON or a file path) tried in order when one is ' +
      'unavailable or its circuit is open; routes without `"upstreams"` try `default` and then these',
  },
  RUNTRAIL_UPSTREAM_WS_PING_MS: {
    default: '30000',
    unit: 'ms',
    description: 'how often a WebSocket upstream is sent a `ping` task',
  },
  RUNTRAIL_UPSTREAM_WS_DEAD_PEER_MS: {
    default: '100000',
    unit: 'ms',
    description: 'a WebSocket upstream silent this long is taken for dead: the socket is replaced (session resumed)',
  },
  RUNTRAIL_UPSTREAM_WS_MAX_IN_FLIGHT: {
    default: '1000',
    description: 'tasks awaiting an answer on one upstream WebSocket; beyond it tasks get `queueCapacityExceeded`',
  },
  RUNTRAIL_UPSTREAM_WS_MAX_BUFFERED_BYTES: {
    default: '16777216',
    unit: 'bytes',
    aside: '16 MiB',
    description: 'bytes queued unsent on an upstream WebSocket beyond which a task is held back and retried',
  },
  RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS: {
    default: '300000',
    unit: 'ms',
    description:
      "an organization's own upstream connection (`runtrail keys upstream`) unused this long is closed; the next task opens it again",
  },
  RUNTRAIL_ARCHIVE_OUTPUTS: {
    default: 'all',
    description:
      'which outputs of forwarded tasks runtrail keeps a copy of, for organizations without their own policy (`runtrail keys archive`): `all`, `none`, or a number of bytes (outputs up to that size each) ([docs/engines.md](docs/engines.md))',
  },
  RUNTRAIL_ARCHIVE_MAX_BYTES: {
    default: '104857600',
    unit: 'bytes',
    aside: '100 MiB',
    description: 'the largest output archived whatever the policy; a larger one is recorded as failed',
  },
  RUNTRAIL_ARCHIVE_TIMEOUT_MS: {
    default: '60000',
    unit: 'ms',
    description: "one archive fetch's deadline (redirects included)",
  },
  RUNTRAIL_ARCHIVE_ATTEMPTS: {
    default: '5',
    description: 'fetch attempts per output before it is recorded as failed (timeouts, 5xx and 429 are retried)',
  },
  RUNTRAIL_ARCHIVE_BACKOFF_MS: {
    default: '1000',
    unit: 'ms',
    description: 'first archive retry delay (doubling, with jitter, up to a minute)',
  },
  RUNTRAIL_OPENAI_URL: {
    description:
      "an operator's OpenAI-compatible server (`http://127.0.0.1:11434/v1` for Ollama); set together with `RUNTRAIL_OPENAI_MODELS`",
  },
  RUNTRAIL_OPENAI_API_KEY: {
    description: 'its key (Bearer, optional); never recorded, logged or shown',
  },
  RUNTRAIL_OPENAI_MODELS: {
    description:
      'its models `[{"air","model","taskTypes","standsInFor"}]` (inline JSON or a file path) for textInference, promptEnhance, caption, imageInference ([docs/engines.md](docs/engines.md))',
  },
  RUNTRAIL_OPENAI_TIMEOUT_MS: {
    default: '120000',
    unit: 'ms',
    description: "one call's deadline, as the upstream's; also a stream's longest silence",
  },
  RUNTRAIL_OPENAI_RETRIES: {
    default: '2',
    description: "further attempts where a retry is safe, as the upstream's",
  },
  RUNTRAIL_OPENAI_RETRY_BACKOFF_MS: {
    default: '250',
    unit: 'ms',
    description: 'first retry delay, doubling',
  },
  RUNTRAIL_OPENAI_BREAKER_FAILURES: {
    default: '5',
    description: 'consecutive failures that open its circuit',
  },
  RUNTRAIL_OPENAI_BREAKER_COOLDOWN_MS: {
    default: '30000',
    unit: 'ms',
    description: 'how long an open circuit fails tasks fast with `providerUnavailable`',
  },
  RUNTRAIL_COMFYUI_URL: {
    description: "an operator's ComfyUI (`http://127.0.0.1:8188`); set together with `RUNTRAIL_COMFYUI_MODELS`",
  },
  RUNTRAIL_COMFYUI_API_KEY: {
    description: 'its key (Bearer, optional); never recorded, logged or shown',
  },
  RUNTRAIL_COMFYUI_MODELS: {
    description:
      'its models, each with a `workflow` file (API format, with `{{positivePrompt}}`, `{{seed}}`, … placeholders) for imageInference ([docs/engines.md](docs/engines.md))',
  },
  RUNTRAIL_COMFYUI_TIMEOUT_MS: {
    default: '30000',
    unit: 'ms',
    description: "one call's deadline, as the upstream's",
  },
  RUNTRAIL_COMFYUI_RETRIES: {
    default: '2',
    description: "further attempts where a retry is safe, as the upstream's",
  },
  RUNTRAIL_COMFYUI_RETRY_BACKOFF_MS: {
    default: '250',
    unit: 'ms',
    description: 'first retry delay, doubling',
  },
  RUNTRAIL_COMFYUI_BREAKER_FAILURES: {
    default: '5',
    description: 'consecutive failures that open its circuit',
  },
  RUNTRAIL_COMFYUI_BREAKER_COOLDOWN_MS: {
    default: '30000',
    unit: 'ms',
    description: 'how long an open circuit fails tasks fast with `providerUnavailable`',
  },
  RUNTRAIL_COMFYUI_POLL_MS: {
    default: '500',
    unit: 'ms',
    description: 'how often `/history` is polled',
  },
  RUNTRAIL_COMFYUI_JOB_TIMEOUT_MS: {
    default: '600000',
    unit: 'ms',
    description: 'how long one workflow may run',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The settings that have a default: reading one always gives a value. */
export type DefaultedSetting = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { default: string } ? K : never;
}[SettingName];

/** How the README's configuration table shows a setting's default. */
export function shownDefault(setting: Setting): string {
  if (setting.default === undefined) return setting.shown ?? '—';
  if (setting.default === '') return 'empty';
  return setting.aside !== undefined ? `\`${setting.default}\` (${setting.aside})` : `\`${setting.default}\``;
}

/** The flag as the README shows it (`--data-dir`). */
export function flagName(flag: string): string {
  return flag.split(' ')[0] ?? flag;
}

/** A flag's name as commander hands it over (`--data-dir <dir>` → `dataDir`). */
export function flagKey(flag: string): string {
  return flagName(flag)
    .replace(/^--/, '')
    .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The serve command's help line for a setting: its description as plain text, its variable and default. */
export function flagHelp(name: SettingName): string {
  const setting: Setting = SETTINGS[name];
  const plain = setting.description.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/`/g, '');
  const fallback = setting.default !== undefined && setting.default !== '' ? `, default ${setting.default}` : '';
  return `${plain} (${name}${fallback})`;
}
