// A TCP relay run as its own process: accepts on one address and pipes each connection to
// another. The multi-host tests use it to offer PostgreSQL (which listens on 127.0.0.1 only) on
// the virtual network's bridge address without reconfiguring or restarting the shared server;
// connections then reach PostgreSQL from 127.0.0.1, so its trust setup is unchanged.
// Usage: node tcp-relay.js <listen host> <target host> <target port>; prints `relay <port>` when ready.

import { connect, createServer } from 'node:net';

const [listenHost, targetHost, targetPort] = process.argv.slice(2);
if (listenHost === undefined || targetHost === undefined || targetPort === undefined)
  throw new Error('usage: tcp-relay.js <listen host> <target host> <target port>');
const server = createServer((inbound) => {
  const outbound = connect(Number(targetPort), targetHost);
  inbound.pipe(outbound).pipe(inbound);
  const end = () => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', end).on('close', end);
  outbound.on('error', end).on('close', end);
});
server.listen(0, listenHost, () => {
  const address = server.address();
  process.stdout.write(`relay ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.once('SIGTERM', () => process.exit(0));
