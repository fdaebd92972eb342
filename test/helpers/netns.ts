// Hosts of their own on one machine: Linux network namespaces (`ip netns`), each joined to a
// bridge by a veth pair and given an address of its own on a private /24. A process started in
// one (`ip netns exec`) sees only that network: it reaches PostgreSQL and the S3 server through
// the bridge address, like a replica on another machine reaches them over the LAN. Names are
// unique per run (several test runs may share the machine) and everything is removed on close.
// Making namespaces needs CAP_NET_ADMIN (root): without it the suites say so and are skipped,
// and fail under CI=true.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { REPO_ROOT } from './server.js';

const run = promisify(execFile);

export interface VirtualNetwork {
  /** The host's address on the bridge: what the namespaces reach this machine's services at. */
  bridgeAddress: string;
  hosts: { namespace: string; address: string }[];
  /** The command prefix that runs a program on host `i`. */
  launcher(i: number): string[];
  /** Offers 127.0.0.1:`port` on the bridge address (a relay process); returns the port there. */
  relay(port: number): Promise<number>;
  close(): Promise<void>;
}

/** Undefined when namespaces can be made here; otherwise why not. */
export async function netnsUnavailable(): Promise<string | undefined> {
  const probe = `runtrail-probe-${randomBytes(4).toString('hex')}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    return `cannot make network namespaces here (${stderr || (err as Error).message}); they need root (CAP_NET_ADMIN) and iproute2`;
  }
}

export async function netnsSuiteGate(suite: string): Promise<boolean> {
  const why = await netnsUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: network namespaces are required in CI`, () => {
      throw new Error(`${why}; CI requires the multi-host suites to run`);
    });
  } else {
    test(`${suite} (skipped: ${why})`, { skip: why }, () => {});
  }
  return false;
}

async function freeSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr']);
  const { stdout: routes } = await run('ip', ['-4', 'route']);
  for (;;) {
    const prefix = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    if (!stdout.includes(` ${prefix}.`) && !routes.includes(`${prefix}.`)) return prefix;
  }
}

export async function makeVirtualNetwork(count: number): Promise<VirtualNetwork> {
  const id = randomBytes(3).toString('hex');
  const bridge = `rtb${id}`;
  const subnet = await freeSubnet();
  const bridgeAddress = `${subnet}.1`;
  const hosts = Array.from({ length: count }, (_, i) => ({
    namespace: `runtrail-${id}-${i}`,
    address: `${subnet}.${10 + i}`,
  }));
  const relays: ChildProcess[] = [];
  const close = async () => {
    for (const r of relays) r.kill('SIGTERM');
    for (const h of hosts) await run('ip', ['netns', 'del', h.namespace]).catch(() => undefined);
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  };
  try {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${bridgeAddress}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    for (const [i, h] of hosts.entries()) {
      const outside = `rth${id}${i}`;
      const inside = `rtn${id}${i}`;
      await run('ip', ['netns', 'add', h.namespace]);
      await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await run('ip', ['link', 'set', inside, 'netns', h.namespace]);
      await run('ip', ['link', 'set', outside, 'master', bridge, 'up']);
      await run('ip', ['-n', h.namespace, 'addr', 'add', `${h.address}/24`, 'dev', inside]);
      await run('ip', ['-n', h.namespace, 'link', 'set', inside, 'up']);
      await run('ip', ['-n', h.namespace, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', h.namespace, 'route', 'add', 'default', 'via', bridgeAddress]);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    bridgeAddress,
    hosts,
    launcher: (i) => ['ip', 'netns', 'exec', hosts[i]!.namespace],
    async relay(port) {
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'dist/test/helpers/tcp-relay.js'), bridgeAddress, '127.0.0.1', String(port)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      relays.push(child);
      return new Promise<number>((resolve, reject) => {
        child.stdout.setEncoding('utf8').once('data', (line: string) => {
          const m = /^relay (\d+)/.exec(line);
          if (m?.[1]) resolve(Number(m[1]));
          else reject(new Error(`relay: ${line}`));
        });
        child.once('exit', (code) => reject(new Error(`relay exited ${String(code)}`)));
      });
    },
    close,
  };
}
