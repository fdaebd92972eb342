// Starts runtrail the way the README does (`node bin/runtrail.js serve`, i.e. `npm start`) on a
// free port with a temporary data folder, and offers small helpers to talk to it over HTTP.
// With RUNTRAIL_TEST_BACKEND=postgres every server gets its own PostgreSQL schema (DATABASE_URL),
// tied to its data folder (a restart on the same folder finds the same schema) and dropped with it.
// With RUNTRAIL_TEST_MEDIA=s3 every server keeps its media on the S3 server RUNTRAIL_TEST_S3_*
// names (test/helpers/radosgw-serve.ts starts one), under a prefix tied to its data folder too.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { unpackTexts } from '../../src/ledger/packed-texts.js';
import { TEST_DATABASE_URL } from './postgres.js';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const BIN = join(REPO_ROOT, 'bin/runtrail.js');

export interface TestServer {
  url: string;
  /** The API key of organization `default` (RUNTRAIL_API_KEY). */
  key: string;
  dataDir: string;
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** POSTs a body (string or value) to /v1 with the given key (default: the server's key). */
  post(body: unknown, options?: { key?: string | null; headers?: Record<string, string> }): Promise<Reply>;
  /** Stops the process (SIGTERM, then SIGKILL) and, unless `keepData`, removes the data folder. */
  stop(options?: { keepData?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

export interface Reply {
  status: number;
  text: string;
  json: { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] } & Record<string, unknown>;
  headers: Headers;
}

/** The backend the end-to-end suites run on: `postgres` when RUNTRAIL_TEST_BACKEND says so. */
export const TEST_BACKEND = process.env.RUNTRAIL_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/** Where the end-to-end suites keep media: `s3` when RUNTRAIL_TEST_MEDIA says so, else the data folder. */
export const TEST_MEDIA = process.env.RUNTRAIL_TEST_MEDIA === 's3' ? 's3' : 'folder';

/** DATABASE_URL of the servers started on each data folder (PostgreSQL backend only). */
const databaseUrls = new Map<string, string>();
/** The S3 media settings of the servers started on each data folder (RUNTRAIL_TEST_MEDIA=s3 only). */
const mediaEnvs = new Map<string, Record<string, string>>();
let e2eBucket: Promise<void> | undefined;

/** RUNTRAIL_MEDIA_URL and the AWS variables for the server on `dataDir`, on the run's shared S3 server. */
async function s3MediaEnv(dataDir: string): Promise<Record<string, string>> {
  const endpoint = process.env.RUNTRAIL_TEST_S3_ENDPOINT;
  if (endpoint === undefined)
    throw new Error('RUNTRAIL_TEST_MEDIA=s3 needs RUNTRAIL_TEST_S3_ENDPOINT (see test/helpers/radosgw-serve.ts)');
  const { s3Gateway } = await import('./radosgw.js');
  const gateway = await s3Gateway();
  e2eBucket ??= gateway.createBucket('runtrail-e2e').catch((err: unknown) => {
    if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
  });
  await e2eBucket;
  return gateway.env('runtrail-e2e', `e2e-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16)}`);
}

/**
 * Environment a CLI command needs to reach the same storage as the server on `dataDir`
 * (DATABASE_URL under the PostgreSQL backend; nothing for SQLite, where the folder is enough).
 */
export function backendEnv(dataDir: string): Record<string, string> {
  const url = databaseUrls.get(resolve(dataDir));
  return { ...(url === undefined ? {} : { DATABASE_URL: url }), ...mediaEnvs.get(resolve(dataDir)) };
}

/**
 * The names (`<uuid>.<format>`) of the media the server on `dataDir` has stored, sorted: the files
 * in its media folder, or the objects under its prefix when RUNTRAIL_TEST_MEDIA=s3.
 */
export async function storedMediaNames(dataDir: string): Promise<string[]> {
  const env = mediaEnvs.get(resolve(dataDir));
  if (env === undefined) return existsSync(join(dataDir, 'media')) ? readdirSync(join(dataDir, 'media')).sort() : [];
  const { s3Gateway } = await import('./radosgw.js');
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const client = (await s3Gateway()).client();
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(env['RUNTRAIL_MEDIA_URL'] ?? '');
  const names: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: m?.[1], Prefix: `${m?.[2] ?? ''}/`, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) names.push((o.Key ?? '').split('/').pop() ?? '');
      token = page.NextContinuationToken;
    } while (token !== undefined);
  } finally {
    client.destroy();
  }
  return names.sort();
}

/** A PostgreSQL URL whose connections use `schema` (search_path), created if missing. */
export async function schemaDatabaseUrl(schema: string): Promise<string> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } finally {
    await client.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export async function dropSchemaOf(databaseUrl: string): Promise<void> {
  const m = /search_path=([a-z0-9_]+)/.exec(new URL(databaseUrl).searchParams.get('options') ?? '');
  if (!m) return;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${m[1]} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Everything the database of the server on `dataDir` holds, as text (every row of every table),
 * for tests that look for what must never be stored. SQLite rows are read from the database file
 * with packed task texts unpacked (deflated bytes would hide a string from a plain grep of the
 * file); PostgreSQL rows come from the server's schema.
 */
export async function databaseText(dataDir: string): Promise<string> {
  const url = databaseUrls.get(resolve(dataDir));
  if (url === undefined) return sqliteText(join(dataDir, 'runtrail.db'));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
    );
    const parts: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ t: string }>(`SELECT t::text AS t FROM "${table_name}" t`);
      parts.push(...rows.rows.map((r) => r.t));
    }
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

function sqliteText(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    // Virtual tables are left out: the text index (tasks_text) cannot be read row by row; what it
    // holds is in its shadow tables (tasks_text_data, …), read like any other, and it is fed only
    // the request texts the tasks table holds.
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'`)
      .pluck()
      .all() as string[];
    const parts: string[] = [];
    for (const table of tables) {
      for (const row of db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
        const packed = row['packed_texts'];
        if (packed instanceof Uint8Array) Object.assign(row, unpackTexts(packed), { packed_texts: null });
        parts.push(
          JSON.stringify(row, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)),
        );
      }
    }
    return parts.join('\n');
  } finally {
    db.close();
  }
}

export function newApiKey(): string {
  return 'rt_test_' + randomBytes(24).toString('base64url');
}

export function uuid(): string {
  return randomUUID();
}

export async function startServer(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    key?: string;
    /** Runs the server through this command (e.g. `ip netns exec NAME`). */ launcher?: string[];
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'runtrail-test-'));
  const key = options.key ?? newApiKey();
  let databaseUrl = options.env?.['DATABASE_URL'];
  if (databaseUrl === undefined && TEST_BACKEND === 'postgres') {
    // RUNTRAIL_TEST_SCHEMA_PREFIX lets a runner drop every schema of its run at the end (servers
    // restarted on a folder the test made itself leave theirs behind).
    const prefix = /^[a-z_][a-z0-9_]{0,40}$/.test(process.env.RUNTRAIL_TEST_SCHEMA_PREFIX ?? '')
      ? process.env.RUNTRAIL_TEST_SCHEMA_PREFIX!
      : 'rt_e2e_';
    const schema = prefix + createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
    databaseUrl = await schemaDatabaseUrl(schema);
    databaseUrls.set(resolve(dataDir), databaseUrl);
  }
  const ownsSchema = databaseUrl !== undefined && options.env?.['DATABASE_URL'] === undefined;
  let mediaEnv: Record<string, string> = {};
  if (
    TEST_MEDIA === 's3' &&
    options.env?.['RUNTRAIL_MEDIA_URL'] === undefined &&
    options.env?.['RUNTRAIL_MEDIA_DIR'] === undefined
  ) {
    mediaEnv = await s3MediaEnv(dataDir);
    mediaEnvs.set(resolve(dataDir), mediaEnv);
  }
  const launcher = options.launcher ?? [];
  const child = spawn(
    launcher[0] ?? process.execPath,
    [...launcher.slice(1), ...(launcher.length > 0 ? [process.execPath] : []), BIN, 'serve'],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        RUNTRAIL_DATA_DIR: dataDir,
        RUNTRAIL_API_KEY: key,
        RUNTRAIL_LOG_LEVEL: 'warn',
        ...(databaseUrl !== undefined ? { DATABASE_URL: databaseUrl } : {}),
        ...mediaEnv,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in time\nstdout:\n${out}\nstderr:\n${err}`)),
      20_000,
    );
    const onData = () => {
      const m = /runtrail listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolveUrl(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    key,
    dataDir,
    process: child,
    stdout: () => out,
    stderr: () => err,
    post: (body, opts = {}) => post(url, body, opts.key === undefined ? key : opts.key, opts.headers),
    async stop(opts = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(opts.signal ?? 'SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!opts.keepData && options.dataDir === undefined) {
        rmSync(dataDir, { recursive: true, force: true });
        mediaEnvs.delete(resolve(dataDir));
        if (ownsSchema) {
          databaseUrls.delete(resolve(dataDir));
          await dropSchemaOf(databaseUrl!);
        }
      }
    },
  };
}

export async function post(
  url: string,
  body: unknown,
  key: string | null,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(`${url}/v1`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Reply['json'] = {};
  try {
    json = JSON.parse(text) as Reply['json'];
  } catch {
    /* left empty: the caller asserts on text */
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** An imageInference task with small defaults, overridable. */
export function imageTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: 'runware:101@1',
    positivePrompt: 'a lighthouse at dusk',
    // Runware's smallest size for runware:101@1 (tiny renders name runtrail:procedural@plasma-1).
    width: 128,
    height: 128,
    ...overrides,
  };
}
