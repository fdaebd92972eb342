// Unit tests for the webhook pieces: Standard Webhooks signing (against the specification's
// published vector and an independent verifier), the address classification and URL guard that
// keep webhooks and uploads off private networks, and the retry schedule.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutboundPolicy } from '../src/media/outbound-policy.js';
import { OutboundTargetGuard, OutboundTargetRefused, isPublicAddress } from '../src/webhooks/outbound-target.js';
import { generateWebhookSecret, signatureHeaders } from '../src/webhooks/signing.js';
import { retryDelay } from '../src/webhooks/delivery-worker.js';
import { verifyStandardWebhook } from './helpers/standard-webhooks.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('signing reproduces the Standard Webhooks reference vector', () => {
  const headers = signatureHeaders(
    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    'msg_p5jXN8AQM9LWM0D4loKWxJek',
    1614265330,
    '{"test": 2432232314}',
  );
  assert.deepEqual(headers, {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    'webhook-timestamp': '1614265330',
    'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  });
  assert.ok(
    verifyStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232314}', 1614265330),
  );
});

test('a generated secret signs what the independent verifier accepts, and nothing tampered', () => {
  const secret = generateWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const body = '{"taskType":"imageInference","status":"success"}';
  const now = Math.floor(Date.now() / 1000);
  const headers = signatureHeaders(secret, 'msg_1', now, body);
  assert.ok(verifyStandardWebhook(secret, headers, body));
  assert.equal(verifyStandardWebhook(secret, headers, body + ' '), false);
  assert.equal(verifyStandardWebhook(generateWebhookSecret(), headers, body), false);
  assert.equal(verifyStandardWebhook(secret, { ...headers, 'webhook-id': 'msg_2' }, body), false);
  assert.equal(
    verifyStandardWebhook(secret, signatureHeaders(secret, 'msg_1', now - 3600, body), body),
    false,
    'stale timestamp',
  );
});

test('addresses: private, loopback, link-local and special ranges are not public; IPv4 inside IPv6 is judged as IPv4', () => {
  const notPublic = [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
  ];
  const isPublic = [
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ];
  for (const a of notPublic) assert.equal(isPublicAddress(a), false, a);
  for (const a of isPublic) assert.equal(isPublicAddress(a), true, a);
  assert.equal(isPublicAddress('not-an-ip'), false);
});

test('IPv4-translated (RFC 6145), local-use NAT64 (64:ff9b:1::/48, every RFC 6052 placement) and 6to4 addresses are judged by the IPv4 they carry', () => {
  const notPublic = [
    '::ffff:0:127.0.0.1',
    '::ffff:0:7f00:1',
    '::ffff:0:10.0.0.1',
    // 127.0.0.1 at the /48, /56, /64 and /96 places of the local-use prefix.
    '64:ff9b:1:7f00:0:100::',
    '64:ff9b:1:7f:0:1::',
    '64:ff9b:1::7f:0:100:0',
    '64:ff9b:1::7f00:1',
    '2002:7f00:1::',
    '2002:a00:1::1',
    '2002:c0a8:101::',
    // 8.8.8.8 at the /96 place, but 0.0.0.0 at the /48 one: which the operator uses is not known.
    '64:ff9b:1::808:808',
  ];
  const isPublic = ['::ffff:0:8.8.8.8', '2002:808:808::1'];
  for (const a of notPublic) assert.equal(isPublicAddress(a), false, a);
  for (const a of isPublic) assert.equal(isPublicAddress(a), true, a);
});

test('the URL guard checks every resolved address and honours the allow-list', async () => {
  const dns: Record<string, string[]> = {
    'public.example': ['93.184.216.34', '2606:4700:4700::1111'],
    'mixed.example': ['93.184.216.34', '10.0.0.7'],
    'internal.example': ['192.168.0.10'],
    'listed.example': ['10.9.9.9'],
  };
  const resolve = async (host: string) => {
    const found = dns[host];
    if (!found) throw new Error('ENOTFOUND');
    return found;
  };
  const guard = new OutboundTargetGuard(new OutboundPolicy(['listed.example', '127.0.0.1', '192.168.0.0/24']), resolve);
  const refused = async (url: string, pattern: RegExp) => {
    await assert.rejects(
      guard.check(url),
      (err: unknown) => err instanceof OutboundTargetRefused && pattern.test(err.message),
    );
  };
  assert.equal((await guard.check('https://public.example/hook?token=x')).hostname, 'public.example');
  await refused('https://mixed.example/hook', /10\.0\.0\.7/);
  await refused('http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/);
  await refused('http://[::1]:8080/', /::1/);
  await refused('http://10.0.0.1/', /private, loopback or link-local/);
  await refused('http://nowhere.example/', /could not be resolved/);
  await refused('ftp://public.example/', /http/);
  await refused('not a url', /http/);
  // Allowed by host name, by address and by CIDR.
  await guard.check('http://listed.example/hook');
  await guard.check('http://127.0.0.1:9999/hook');
  await guard.check('http://internal.example/hook');
});

test('the connection lookup refuses a name that now resolves to a private address (DNS rebinding)', async () => {
  let answer = ['93.184.216.34'];
  const guard = new OutboundTargetGuard(new OutboundPolicy([]), async () => answer);
  await guard.check('http://rebind.example/');
  answer = ['127.0.0.1'];
  const lookup = guard.lookupFor(new URL('http://rebind.example/'));
  const err = await new Promise<Error | null>((resolve) => lookup('rebind.example', {}, (e) => resolve(e)));
  assert.match(String(err?.message), /refusing to connect/);
});

test('retries back off exponentially with equal jitter, up to the cap', () => {
  const policy = { backoffMs: 250, backoffMaxMs: 8000 };
  assert.equal(
    retryDelay(1, policy, () => 0),
    125,
  );
  assert.equal(
    retryDelay(1, policy, () => 1),
    250,
  );
  assert.equal(
    retryDelay(3, policy, () => 1),
    1000,
  );
  assert.equal(
    retryDelay(10, policy, () => 1),
    8000,
  );
  assert.equal(
    retryDelay(10, policy, () => 0),
    4000,
  );
  for (let n = 1; n < 12; n++) {
    const d = retryDelay(n, policy);
    const ceiling = Math.min(8000, 250 * 2 ** (n - 1));
    assert.ok(d >= ceiling / 2 && d <= ceiling, `${n}: ${d}`);
  }
});

guardOpenHandles();
