// Starts runtrail for a benchmark the way the README says (`bin/runtrail.js serve` on a data
// folder, a configured API key, port 0), and the bench's other small shared pieces: the repo root,
// fresh API keys, posting to /v1. The benchmarks use this instead of the test helpers, so the two
// can change apart.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root (this file runs from dist/bench/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchServer {
  url: string;
  key: string;
  dataDir: string;
  process: ChildProcess;
  post(body: unknown, key?: string): Promise<BenchReply>;
  /** Stops the server; removes a data folder it made itself unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface BenchReply {
  status: number;
  text: string;
  /** The body parsed, or {} when it is not JSON. */
  json: { data?: Record<string, unknown>[]; errors?: Record<string, unknown>[] };
}

export function newApiKey(): string {
  return 'rt_bench_' + randomBytes(24).toString('base64url');
}

export const uuid = (): string => randomUUID();

export async function startServer(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    key?: string;
    /** Node flags for the server process (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
    nodeArgs?: string[];
    /** Another build's checkout to start the server from (its bin/ and dist/), e.g. a baseline commit's. */
    repoRoot?: string;
  } = {},
): Promise<BenchServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'runtrail-bench-'));
  const key = options.key ?? newApiKey();
  const root = options.repoRoot ?? REPO_ROOT;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(root, 'bin/runtrail.js'), 'serve'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      RUNTRAIL_DATA_DIR: dataDir,
      RUNTRAIL_API_KEY: key,
      RUNTRAIL_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error('the server has no stdout');
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    const onData = (d: string) => {
      out += d;
      const m = /runtrail listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        stdout.off('data', onData);
        child.off('exit', onExit);
        resolveUrl(m[1]);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`the server exited with ${code} before listening:\n${out}`));
    stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', onExit);
  });
  stdout.resume();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    key,
    dataDir,
    process: child,
    async post(body, asKey = key) {
      const res = await fetch(`${url}/v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${asKey}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: BenchReply['json'] = {};
      try {
        json = JSON.parse(text) as BenchReply['json'];
      } catch {
        /* not JSON: the caller reads text */
      }
      return { status: res.status, text, json };
    },
    async stop(opts = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!opts.keepData && options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates an API key for another organization with the CLI, as an operator would, while the server runs. */
export async function createOrgKey(
  server: Pick<BenchServer, 'dataDir'>,
  org: string,
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'bin/runtrail.js'), 'keys', 'create', '--org', org, '--data-dir', server.dataDir],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
    },
  );
  const key = stdout.trim().split('\n').pop();
  if (!key) throw new Error(`keys create printed no key for ${org}`);
  return key;
}
