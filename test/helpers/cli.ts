// Runs the `runtrail` command the way a person does (`node bin/runtrail.js …`) against a data
// folder, and collects what it prints.

import { spawn } from 'node:child_process';
import { BIN, REPO_ROOT, backendEnv } from './server.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { dataDir: string; env?: Record<string, string>; input?: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        RUNTRAIL_DATA_DIR: options.dataDir,
        ...backendEnv(options.dataDir),
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs and expects exit code 0; returns stdout. */
export async function cliOk(args: string[], options: Parameters<typeof runCli>[1]): Promise<string> {
  const r = await runCli(args, options);
  if (r.code !== 0)
    throw new Error(`runtrail ${args.join(' ')} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** Creates an API key for an organization (the key is the last line printed). */
export async function createKey(dataDir: string, org: string): Promise<string> {
  const out = await cliOk(['keys', 'create', '--org', org], { dataDir });
  return out.trim().split('\n').pop()!;
}
