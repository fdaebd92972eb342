// N runtrail replicas on hosts of their own (test/helpers/netns.ts): each in its own network
// namespace with its own address and its own data folder, reaching PostgreSQL (relayed onto the
// bridge address) and the S3 server (test/helpers/radosgw.ts, on the bridge address) over the
// virtual network only. Media are in one bucket; nothing is shared through the file system.

import { randomBytes } from 'node:crypto';
import { dropSchemaOf, newApiKey, schemaDatabaseUrl, startServer, type TestServer } from './server.js';
import { uniqueSchema } from './postgres.js';
import { makeVirtualNetwork, type VirtualNetwork } from './netns.js';
import { s3Gateway, uniqueBucket, type S3Gateway } from './radosgw.js';

export interface HostReplicas {
  replicas: TestServer[];
  /** The schema's URL as this machine reaches it (127.0.0.1), for tests that look at the tables. */
  databaseUrl: string;
  /** The same schema as the replicas reach it (over the bridge). */
  replicaDatabaseUrl: string;
  net: VirtualNetwork;
  gateway: S3Gateway;
  bucket: string;
  prefix: string;
  /** Starts replica `i` again (after a SIGKILL), on the same host, address and port. */
  restart(i: number): Promise<TestServer>;
  stop(): Promise<void>;
}

export async function startHostReplicas(count: number, env: Record<string, string> = {}): Promise<HostReplicas> {
  const net = await makeVirtualNetwork(count);
  let gateway: S3Gateway | undefined;
  let databaseUrl: string | undefined;
  const replicas: TestServer[] = [];
  try {
    gateway = await s3Gateway();
    const bucket = uniqueBucket();
    await gateway.createBucket(bucket);
    databaseUrl = await schemaDatabaseUrl(uniqueSchema());
    const pgUrl = new URL(databaseUrl);
    const relayed = new URL(databaseUrl);
    relayed.hostname = net.bridgeAddress;
    relayed.port = String(await net.relay(Number(pgUrl.port || 5432)));
    const prefix = `replicas-${randomBytes(3).toString('hex')}`;
    const key = newApiKey();
    const envOf = (i: number) => ({
      HOST: net.hosts[i]!.address,
      PORT: '8080',
      DATABASE_URL: relayed.toString(),
      ...gateway!.env(bucket, prefix, `http://${net.bridgeAddress}:${gateway!.port}`),
      ...env,
    });
    const start = (i: number) => startServer({ key, launcher: net.launcher(i), env: envOf(i) });
    // One first: it migrates the schema; the others then start together.
    replicas.push(await start(0));
    replicas.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => start(i + 1)))));
    const g = gateway;
    const url = databaseUrl;
    return {
      replicas,
      databaseUrl: url,
      replicaDatabaseUrl: relayed.toString(),
      net,
      gateway: g,
      bucket,
      prefix,
      async restart(i) {
        replicas[i] = await start(i);
        return replicas[i];
      },
      async stop() {
        await Promise.all(replicas.map((r) => r.stop()));
        await net.close();
        await dropSchemaOf(url);
        await g.close();
      },
    };
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop()));
    await net.close();
    if (databaseUrl !== undefined) await dropSchemaOf(databaseUrl);
    await gateway?.close();
    throw err;
  }
}
