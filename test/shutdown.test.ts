// What a client sees while a server shuts down (SIGTERM), as docs/async.md says: new connections
// are refused, idle keep-alive connections are closed, a request in flight is answered, and a
// request that still arrives on a connection opened before gets serviceUnavailable (503, the
// protocol's envelope) with the connection closed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { imageTask, startServer } from './helpers/server.js';

/** A raw keep-alive connection: everything it receives, and when the server closes it. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
  });
}

const request = (key: string, body: string) =>
  `POST /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('SIGTERM: new connections refused, idle ones closed, in-flight answered, late requests on open connections get 503 serviceUnavailable', async () => {
  const server = await startServer({ env: { RUNTRAIL_SHUTDOWN_GRACE_MS: '30000' } });
  try {
    const port = Number(new URL(server.url).port);
    const slow = imageTask({ positivePrompt: 'a slow fox [slow:6000]', width: 128, height: 128 });

    // In flight: a sync task that takes a while.
    const inFlight = await rawConnection(port);
    inFlight.socket.write(request(server.key, JSON.stringify([slow])));
    // Idle: a keep-alive connection that has been answered once.
    const idle = await rawConnection(port);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // Open but not yet used: it will send its request during the shutdown.
    const late = await rawConnection(port);
    for (;;) {
      const res = await fetch(`${server.url}/api/tasks/${slow.taskUUID}`, {
        headers: { authorization: `Bearer ${server.key}` },
      });
      if (res.status === 200 && idle.received().includes('"status"')) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    server.process.kill('SIGTERM');
    // The idle connection is closed once the shutdown has begun.
    await idle.closed;
    // A new connection is never served. The listener closes a moment after the idle connections do:
    // in that moment a connection may still be accepted, and is then closed unanswered.
    let refused = '';
    for (let i = 0; i < 40 && refused !== 'ECONNREFUSED'; i++) {
      refused = await fetch(`${server.url}/healthz`).then(
        (r) => `answered ${r.status}`,
        (e: unknown) => (e as { cause?: { code?: string } }).cause?.code ?? String(e),
      );
      assert.ok(!refused.startsWith('answered'), `a new connection was served during shutdown: ${refused}`);
      if (refused !== 'ECONNREFUSED') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(refused, 'ECONNREFUSED', 'a new connection is refused');

    late.socket.write(request(server.key, JSON.stringify([imageTask({ width: 128, height: 128 })])));
    await late.closed;
    const answer = late.received();
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
      errors: { code: string; message: string }[];
    };
    assert.equal(body.errors[0]!.code, 'serviceUnavailable');
    assert.match(body.errors[0]!.message, /shutting down/);

    // The task in flight is answered in full before the process exits.
    await inFlight.closed;
    const done = inFlight.received();
    assert.match(done, /^HTTP\/1\.1 200 /);
    assert.ok(
      done.includes(`"taskUUID":"${slow.taskUUID as string}"`) && done.includes('"imageURL"'),
      done.slice(0, 300),
    );
    await new Promise<void>((r) => (server.process.exitCode !== null ? r() : server.process.once('exit', () => r())));
    assert.equal(server.process.exitCode, 0);
  } finally {
    await server.stop();
  }
});
