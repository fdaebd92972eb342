// The upstream engine: forwards whole task objects to a Runware-compatible API and hands back
// its items and errors echoing the caller's taskUUID and taskType. Upstream, each task runs
// under a taskUUID derived from (organization, caller's taskUUID): stable across retries and
// re-runs after a crash (so the upstream answers a repeat idempotently), distinct across
// organizations and across upstreams. Async tasks are sent async and polled with getResponse until
// every result ends. A task whose upstream is unavailable runs on the next of its fallback chain
// (fallback-chain.ts); the transport (REST or WebSocket) follows each upstream's URL (upstream-pool.ts).

import { createHash } from 'node:crypto';
import { ProtocolError, isProtocolError } from '../../protocol/errors.js';
import type { AuditStore } from '../../ledger/types.js';
import type { UpstreamTarget } from '../../accounts/upstream-accounts.js';
import { editMembers } from '../../protocol/source-members.js';
import type { OutputSink } from '../../archive/output-archiver.js';
import type { EngineRoute, ForwardingEngine, ForwardOutcome, ForwardRequest, ModelInfo } from '../engine.js';
import { UPSTREAM_SUBJECT } from './upstream-client.js';
import type { ExchangeRecorder, UpstreamAccount, UpstreamTransport } from './upstream-transport.js';
import { UpstreamPool, type UpstreamPoolSettings } from './upstream-pool.js';
import { DEFAULT_UPSTREAM, nextUpstreamMayTry, upstreamChain } from './fallback-chain.js';
import { resultsAsked } from '../../protocol/results-asked.js';

export interface UpstreamEngineOptions extends UpstreamPoolSettings {
  pollMs: number;
  asyncTimeoutMs: number;
  /** The server-wide upstream (RUNTRAIL_UPSTREAM_URL + _API_KEY); undefined: organizations' own accounts only. */
  server: { url: string; apiKey: string } | undefined;
  /** Tried in order after the server-wide upstream when a route lists none of its own (RUNTRAIL_UPSTREAM_FALLBACKS). */
  fallbacks: UpstreamAccount[];
}

/** Organizations' own upstream accounts (src/accounts/upstream-accounts.ts); without them every task uses the server-wide upstream. */
export interface UpstreamAccountsPort {
  resolve(orgId: string, routeAccount: string | undefined): Promise<UpstreamTarget>;
  refused(orgId: string, account: string, err: ProtocolError): void;
}

/** Delivery options runtrail carries out itself: sending them on would deliver twice. */
const HANDLED_HERE = ['webhookURL', 'uploadEndpoint'];

export class UpstreamEngine implements ForwardingEngine {
  readonly name = 'upstream';
  /** One transport per (URL, key): the server-wide upstream, the fallbacks, and organizations' own accounts. */
  readonly pool: UpstreamPool;
  /** The server-wide upstream (`default`) and the fallbacks, by name. */
  private readonly upstreams: UpstreamAccount[];

  constructor(
    private readonly options: UpstreamEngineOptions,
    private readonly audit: AuditStore,
    private readonly routes: () => EngineRoute[] = () => [],
    private readonly orgAccounts?: UpstreamAccountsPort,
    /** Where each result's outputs go to be archived (src/archive/), as the result arrives. */
    private readonly outputs?: OutputSink,
  ) {
    this.pool = new UpstreamPool(options);
    this.upstreams = options.server ? [{ name: DEFAULT_UPSTREAM, ...options.server }, ...options.fallbacks] : [];
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * The one place a task's upstreams are chosen: the organization's own account when it holds the
   * one its route asks for (alone: its tasks never go out on the server's keys), else the route's
   * chain of the server-wide upstream and its fallbacks.
   */
  private async chainFor(req: ForwardRequest): Promise<UpstreamAccount[]> {
    const target = this.orgAccounts ? await this.orgAccounts.resolve(req.orgId, req.account) : undefined;
    if (target && target.account !== null)
      return [
        {
          name: DEFAULT_UPSTREAM,
          url: target.url,
          apiKey: target.apiKey,
          account: target.account,
          // Its transport is the organization's account's: replaced when the key is, closed when idle.
          slot: `${req.orgId}\n${target.account}`,
        },
      ];
    const model = typeof req.value['model'] === 'string' ? req.value['model'] : null;
    return upstreamChain({ taskType: req.taskType, model }, this.routes(), this.upstreams);
  }

  /** One entry per model pattern routed here, so modelSearch shows what goes upstream. */
  models(): ModelInfo[] {
    return this.routes().map((r) => ({
      air: r.model ?? '*',
      name: `${r.model ?? 'any model'} (upstream)`,
      version: '*',
      category: 'checkpoint',
      architecture: 'upstream',
      taskTypes: [r.taskType ?? '*'],
      defaultWidth: 1024,
      defaultHeight: 1024,
    }));
  }

  async forward(req: ForwardRequest): Promise<ForwardOutcome> {
    const chain = await this.chainFor(req);
    for (const [i, upstream] of chain.entries()) {
      try {
        return await this.forwardTo(upstream, req);
      } catch (err) {
        if (i < chain.length - 1 && nextUpstreamMayTry(err)) continue;
        if (isProtocolError(err) && err.code === 'providerAuthenticationFailed' && upstream.account !== undefined)
          this.orgAccounts?.refused(req.orgId, upstream.account, err);
        throw err;
      }
    }
    throw new ProtocolError('providerUnavailable', {
      subject: UPSTREAM_SUBJECT,
      reason: 'no upstream is configured for this route',
    });
  }

  private async forwardTo(upstream: UpstreamAccount, req: ForwardRequest): Promise<ForwardOutcome> {
    const upstreamTaskUUID = upstreamTaskUuid(req.orgId, req.taskUUID, upstream.name);
    // Each exchange's audit write is started, not awaited: the task's completion waits for all of
    // them beside its own write (ForwardOutcome.audited), so one group commit makes both durable
    // instead of one fsync for the audit and another for the completion.
    const audits: Promise<void>[] = [];
    const record =
      (kind: 'task' | 'poll'): ExchangeRecorder =>
      (x) => {
        audits.push(
          this.audit.recordUpstreamExchange({
            ...x,
            orgId: req.orgId,
            taskUUID: req.taskUUID,
            upstreamTaskUUID,
            kind,
            upstreamUrl: upstream.url,
          }),
        );
        return Promise.resolve();
      };
    // Held until the task is done with it: a replaced or idle account transport closes only then.
    const lease = this.pool.acquire(upstream);
    try {
      const transport = lease.transport;
      const body = `[${forwardedSource(req, upstreamTaskUUID)}]`;
      const reply = await transport.post(body, record('task'));
      const first = parseEnvelope(reply.text, req);
      let outcome: ForwardOutcome;
      if (req.value['deliveryMethod'] !== 'async' || first.errors.length > 0) {
        // The outputs are queued for archiving beside the completion's write (one commit), not before it.
        audits.push(
          this.resultsArrived(
            req,
            first.items.map((item, index) => ({ index, item })),
          ),
        );
        outcome = first;
      } else outcome = await this.poll(transport, req, upstreamTaskUUID, record('poll'));
      const audited = Promise.all(audits);
      // Marked handled here: the runner awaits it once the results settle, and sees its failure then.
      audited.catch(() => undefined);
      return { ...outcome, audited };
    } catch (err) {
      // The attempt's error is recorded after its exchanges (and before a fallback tries), as before.
      await Promise.all(audits);
      throw err;
    } finally {
      lease.release();
    }
  }

  /** Polls getResponse until every result has ended (or the async bound passes). */
  private async poll(
    transport: UpstreamTransport,
    req: ForwardRequest,
    upstreamTaskUUID: string,
    record: ExchangeRecorder,
  ): Promise<ForwardOutcome> {
    const expected = resultsAsked(req.value);
    const body = JSON.stringify([{ taskType: 'getResponse', taskUUID: upstreamTaskUUID }]);
    const deadline = Date.now() + this.options.asyncTimeoutMs;
    // Only the last poll (and failures) are kept for audit: a long task would leave hundreds.
    let pending: Parameters<ExchangeRecorder>[0] | undefined;
    const arrived = new Set<number>();
    const keep: ExchangeRecorder = async (x) => {
      if (x.error !== null || x.httpStatus === null || x.httpStatus >= 300) await record(x);
      else pending = x;
    };
    try {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, this.options.pollMs));
        const reply = await transport.post(body, keep);
        const outcome = parseEnvelope(reply.text, req);
        const processing = outcome.items.filter((i) => i['status'] === 'processing');
        // Each result's outputs are archived as soon as the result has ended, not when all have.
        const ended = outcome.items.flatMap((item, index) =>
          item['status'] !== 'processing' && !arrived.has(index) ? [{ index, item }] : [],
        );
        ended.forEach((r) => arrived.add(r.index));
        await this.resultsArrived(req, ended);
        outcome.items.forEach((item, i) => {
          if (item['status'] === 'processing' && typeof item['progress'] === 'number')
            req.onProgress?.(i, item['progress']);
        });
        const endedCount = outcome.items.length - processing.length + outcome.errors.length;
        if (processing.length === 0 && (endedCount >= expected || outcome.errors.length > 0)) {
          return { items: outcome.items.map(withoutPollFields), errors: outcome.errors.map(withoutPollFields) };
        }
      }
    } finally {
      if (pending) await record(pending);
    }
    throw new ProtocolError('timeoutProvider', {
      subject: UPSTREAM_SUBJECT,
      reason: `it did not finish this async task within ${this.options.asyncTimeoutMs / 1000} s`,
    });
  }

  /** The one point where results leave for the archive (their outputs are queued, not fetched, here). */
  private async resultsArrived(
    req: ForwardRequest,
    results: readonly { index: number; item: Record<string, unknown> }[],
  ): Promise<void> {
    if (results.length > 0) await this.outputs?.resultsArrived(req.orgId, req.taskUUID, results);
  }
}

/**
 * The taskUUID a task runs under upstream: a v4-shaped UUID from a hash of (organization, taskUUID),
 * and the upstream's name for any but the server-wide one, so a fallback never sees the UUID another
 * upstream was sent (and the server-wide upstream's UUIDs stay what they always were).
 */
export function upstreamTaskUuid(orgId: string, taskUUID: string, upstream: string = DEFAULT_UPSTREAM): string {
  const which = upstream === DEFAULT_UPSTREAM ? '' : `\n${upstream}`;
  const b = createHash('sha256')
    .update(`runtrail-upstream\n${orgId}\n${taskUUID.toLowerCase()}${which}`)
    .digest()
    .subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The task object sent upstream: the caller's source text with only the taskUUID's value
 * replaced and the delivery options runtrail carries out itself (webhookURL, uploadEndpoint)
 * cut out, so numbers, escapes and key order travel as written (src/protocol/source-members.ts).
 */
export function forwardedSource(req: Pick<ForwardRequest, 'source'>, upstreamTaskUUID: string): string {
  const edited = editMembers(req.source, {
    remove: HANDLED_HERE,
    replace: { taskUUID: JSON.stringify(upstreamTaskUUID) },
  });
  // The recorded source is always an object JSON.parse accepted; anything else is a bug upstream of here.
  if (edited === undefined) throw new Error('a forwarded task source is not a JSON object');
  return edited;
}

/** Reads an upstream reply: `{data, errors}` (or the older singular `error`), items echoing the caller. */
export function parseEnvelope(text: string, req: Pick<ForwardRequest, 'taskUUID' | 'taskType'>): ForwardOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unrecognized('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw unrecognized('is not a JSON object');
  const env = parsed as Record<string, unknown>;
  const data = env['data'];
  let errors = env['errors'];
  if (errors === undefined && env['error'] !== undefined)
    errors = Array.isArray(env['error']) ? env['error'] : [env['error']];
  if (data === undefined && errors === undefined) throw unrecognized('holds neither data nor errors');
  const objects = (v: unknown, name: string): Record<string, unknown>[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x)))
      throw unrecognized(`has a ${name} that is not an array of objects`);
    return v as Record<string, unknown>[];
  };
  const echo = (o: Record<string, unknown>) => ({ ...o, taskType: req.taskType, taskUUID: req.taskUUID });
  return {
    items: objects(data, 'data').map(echo),
    errors: objects(errors, 'errors').map((e) => {
      if (typeof e['code'] !== 'string') throw unrecognized('has an error without a code');
      return echo(e);
    }),
  };
}

function withoutPollFields(o: Record<string, unknown>): Record<string, unknown> {
  const { status: _s, progress: _p, ...rest } = o;
  return rest;
}

function unrecognized(what: string): ProtocolError {
  return new ProtocolError('unrecognizedResponse', { subject: UPSTREAM_SUBJECT, what });
}
