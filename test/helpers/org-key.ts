// Creates an API key for another organization with the CLI, as an operator would, while the
// server runs (the data folder is shared).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, REPO_ROOT, backendEnv, type TestServer } from './server.js';

export async function createOrgKey(server: TestServer, org: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BIN, 'keys', 'create', '--org', org, '--data-dir', server.dataDir],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...backendEnv(server.dataDir) },
    },
  );
  return stdout.trim().split('\n').pop()!;
}
