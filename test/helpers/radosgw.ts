// A real S3 server for the tests: Debian's Ceph RADOS Gateway (`radosgw`) on a single-node Ceph
// cluster made for the occasion in a temporary folder: one monitor, one OSD on the memory-backed
// object store (memstore, nothing on disk), cephx between them, and the gateway on a free port
// with an S3 user whose requests it signs and checks (SigV4). Start-up takes 10–20 s.
//
// Suites call s3Gateway(): the gateway CI started once for the whole run (RUNTRAIL_TEST_S3_*,
// from test/helpers/radosgw-serve.ts in .ci/run), or else one of their own. Without the Debian
// packages the S3 suites are skipped, saying why; under CI=true that is a failure instead.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

// The SDK warns once per process that its releases after January 2027 need Node 22; not news here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const run = promisify(execFile);

export interface S3Gateway {
  /** http://127.0.0.1:<port>; the gateway listens on every address of this host (0.0.0.0). */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** Environment that points a runtrail server at `s3://bucket/prefix` on this gateway (endpoint overridable, e.g. a bridge address). */
  env(bucket: string, prefix: string, endpoint?: string): Record<string, string>;
  createBucket(name: string): Promise<void>;
  /** A client of this gateway, for tests that look at the bucket themselves. */
  client(): S3Client;
  /** Stops the gateway process only (the cluster keeps the objects); only on a gateway of one's own. */
  stopGateway(): Promise<void>;
  /** Starts it again on the same port. */
  startGateway(): Promise<void>;
  /** Stops everything it started (nothing for the shared gateway). */
  close(): Promise<void>;
}

const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];

/** Undefined when a gateway can be had here; otherwise why not. */
export async function s3Unavailable(): Promise<string | undefined> {
  if (process.env.RUNTRAIL_TEST_S3_ENDPOINT !== undefined) return undefined;
  const missing: string[] = [];
  for (const tool of TOOLS) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing.push(tool);
    }
  }
  return missing.length === 0
    ? undefined
    : `Ceph RADOS Gateway is not installed (missing ${missing.join(', ')}; apt-get install radosgw ceph-mon ceph-osd)`;
}

/** True when the S3 suites can run; otherwise registers one test saying why (skipped locally, failed under CI=true). */
export async function s3SuiteGate(suite: string): Promise<boolean> {
  const why = await s3Unavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: the S3 server is required in CI`, () => {
      throw new Error(`${why}; CI requires the S3 suites to run`);
    });
  } else {
    test(`${suite} (skipped: ${why})`, { skip: why }, () => {});
  }
  return false;
}

/** The run's shared gateway when CI started one, else a new one of this suite's own. */
export async function s3Gateway(options: { own?: boolean } = {}): Promise<S3Gateway> {
  const shared = process.env.RUNTRAIL_TEST_S3_ENDPOINT;
  if (shared !== undefined && !options.own) {
    return gatewayHandle(
      shared,
      process.env.RUNTRAIL_TEST_S3_ACCESS_KEY ?? '',
      process.env.RUNTRAIL_TEST_S3_SECRET_KEY ?? '',
      undefined,
    );
  }
  return startRadosgw();
}

export function uniqueBucket(): string {
  return `rt-test-${randomBytes(5).toString('hex')}`;
}

function gatewayHandle(
  endpoint: string,
  accessKeyId: string,
  secretAccessKey: string,
  own: OwnCluster | undefined,
): S3Gateway {
  const client = () =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  return {
    endpoint,
    port: Number(new URL(endpoint).port),
    accessKeyId,
    secretAccessKey,
    env: (bucket, prefix, at = endpoint) => ({
      RUNTRAIL_MEDIA_URL: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT_URL_S3: at,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      // The SDK warns once per process that its releases after January 2027 need Node 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    async createBucket(name) {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    client,
    async stopGateway() {
      if (!own) throw new Error('the shared gateway is not stopped by a suite');
      await own.stopGateway();
    },
    async startGateway() {
      if (!own) throw new Error('the shared gateway is not started by a suite');
      await own.startGateway();
    },
    async close() {
      await own?.close();
    },
  };
}

interface OwnCluster {
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes and starts a single-node cluster and its gateway in a new temporary folder. */
export async function startRadosgw(): Promise<S3Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-radosgw-'));
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    for (const sub of ['run', 'log', 'mon', 'osd/osd.0']) mkdirSync(join(dir, sub), { recursive: true });
    const conf = join(dir, 'ceph.conf');
    writeFileSync(conf, cephConf(dir, fsid, monPort, rgwPort));
    const keyring = join(dir, 'keyring');
    const c = ['-c', conf];
    await run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-authtool', [
      keyring,
      '--gen-key',
      '-n',
      'client.admin',
      '--cap',
      'mon',
      'allow *',
      '--cap',
      'osd',
      'allow *',
      '--cap',
      'mgr',
      'allow *',
    ]);
    await run('ceph-authtool', [
      keyring,
      '--gen-key',
      '-n',
      'osd.0',
      '--cap',
      'mon',
      'allow profile osd',
      '--cap',
      'osd',
      'allow *',
    ]);
    await run('ceph-authtool', [
      keyring,
      '--gen-key',
      '-n',
      'client.rgw',
      '--cap',
      'mon',
      'allow rw',
      '--cap',
      'osd',
      'allow rwx',
    ]);
    await run('monmaptool', [
      '--create',
      '--clobber',
      '--fsid',
      fsid,
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      join(dir, 'monmap'),
    ]);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', keyring]);
    children.push(spawn('ceph-mon', [...c, '-f', '-i', 'a'], { stdio: 'ignore' }));
    const osdUuid = randomUUID();
    await retry(() => run('ceph', [...c, '--connect-timeout', '5', 'osd', 'new', osdUuid, '0']), 20_000);
    await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    children.push(spawn('ceph-osd', [...c, '-f', '-i', '0'], { stdio: 'ignore' }));
    let gateway: ChildProcess | undefined;
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const startGateway = async () => {
      gateway = spawn('radosgw', [...c, '-f', '-n', 'client.rgw'], { stdio: 'ignore' });
      children.push(gateway);
      await retry(async () => {
        if (gateway?.exitCode !== null)
          throw new Error(`radosgw exited (${String(gateway?.exitCode)}); see ${dir}/log`);
        await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
      }, 60_000);
    };
    const stopGateway = async () => {
      const g = gateway;
      if (!g || g.exitCode !== null || g.signalCode !== null) return;
      const exited = new Promise((r) => g.once('exit', r));
      g.kill('SIGKILL');
      await exited;
    };
    await startGateway();
    const accessKeyId = `RT${randomBytes(9).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(24).toString('base64url');
    await run('radosgw-admin', [
      ...c,
      'user',
      'create',
      '--uid=runtrail-test',
      '--display-name=runtrail test',
      `--access-key=${accessKeyId}`,
      `--secret-key=${secretAccessKey}`,
    ]);
    return gatewayHandle(endpoint, accessKeyId, secretAccessKey, {
      startGateway,
      stopGateway,
      async close() {
        const exits = children
          .filter((ch) => ch.exitCode === null && ch.signalCode === null)
          .map((ch) => new Promise((r) => ch.once('exit', r)));
        killAll();
        await Promise.all(exits);
        process.off('exit', killAll);
        rmSync(dir, { recursive: true, force: true });
      },
    });
  } catch (err) {
    killAll();
    throw err;
  }
}

async function retry<T>(attempt: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = ${dir}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
mon data = ${dir}/mon/$name
osd data = ${dir}/osd/$name
[client.rgw]
rgw frontends = beast endpoint=0.0.0.0:${rgwPort}
rgw thread pool size = 64
`;
}
