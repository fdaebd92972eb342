// Assertions on the protocol's error answers, shared by the bad-input suites: a REST reply must be
// exactly {"data":[],"errors":[{code,message,…}]} with the right HTTP status, and every error
// object (REST or a WebSocket frame) must carry its code, a message that leaks nothing internal,
// the documentation link and the fields that apply.

import assert from 'node:assert/strict';

export const DOCS = 'https://runware.ai/docs';

export interface Expected {
  status: number;
  code: string;
  /** Fields the error object must hold with exactly these values (`undefined`: must be absent). */
  fields?: Record<string, unknown>;
  /** A substring of the message. */
  message?: string;
}

/** A REST reply holding exactly one error, as `expected` describes. */
export function assertErrorEnvelope(res: Pick<Response, 'status' | 'headers'>, text: string, expected: Expected): void {
  assert.equal(res.status, expected.status, `status; body: ${text.slice(0, 400)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(text.startsWith('{"data":[],"errors":[{"code":'), `the error envelope: ${text.slice(0, 400)}`);
  const body = JSON.parse(text) as { data: unknown[]; errors: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(body), ['data', 'errors']);
  assert.deepEqual(body.data, []);
  assert.equal(body.errors.length, 1, text.slice(0, 400));
  assertErrorObject(body.errors[0]!, expected, text);
}

/** One error object (of a REST envelope or a WebSocket frame) as `expected` describes; `text` is for messages. */
export function assertErrorObject(
  err: Record<string, unknown>,
  expected: Omit<Expected, 'status'>,
  text: string,
): void {
  assert.equal(err['code'], expected.code, `code; body: ${text.slice(0, 400)}`);
  assert.equal(typeof err['message'], 'string');
  assert.ok((err['message'] as string).length > 0);
  // Nothing internal leaks: no stack frames, no source paths.
  assert.doesNotMatch(err['message'] as string, /\bat .*:\d+:\d+|\/src\/|\.ts\b|node_modules/);
  assert.equal(err['documentation'], DOCS);
  if (expected.message)
    assert.ok(
      (err['message'] as string).includes(expected.message),
      `message mentions ${expected.message}: ${err['message']}`,
    );
  for (const [k, v] of Object.entries(expected.fields ?? {})) {
    if (v === undefined) assert.ok(!(k in err), `${k} absent; body: ${text.slice(0, 400)}`);
    else assert.deepEqual(err[k], v, `${k}; body: ${text.slice(0, 400)}`);
  }
  // invalid<Param> errors carry the parameter's type (docs/protocol.md, "Responses and HTTP status").
  if (/^invalid[A-Z]/.test(expected.code) && 'parameter' in (expected.fields ?? {})) {
    assert.equal(typeof err['type'], 'string', `type present: ${text.slice(0, 400)}`);
  }
}
