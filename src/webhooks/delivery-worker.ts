// Sends the pending deliveries the ledger holds: webhook POSTs (the result's text, flat, signed
// with the organization's Standard Webhooks secret) and uploadEndpoint PUTs (the file's bytes).
// A 2xx answer delivers; anything else is retried with exponential backoff and jitter until the
// attempt limit. Every attempt is recorded. Pending deliveries live in the database, so they
// survive restarts; a delivery interrupted mid-attempt is sent again (at least once; the
// webhook-id stays the same so receivers can de-duplicate).

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AccountStore, DeliveryAttempt, DeliveryStore, PendingDelivery, TaskLedger } from '../ledger/types.js';
import { CONTENT_TYPES, type MediaStore } from '../media/media-store.js';
import { LeasedQueueRunner } from '../queues/leased-queue-runner.js';
import { sendRequest, type SendResult } from './http-send.js';
import type { OutboundTargetGuard } from './outbound-target.js';
import { generateWebhookSecret, signatureHeaders } from './signing.js';

export interface DeliveryPolicy {
  maxAttempts: number;
  timeoutMs: number;
  /** Delay before the first retry; doubled for each further one, capped at backoffMaxMs. */
  backoffMs: number;
  backoffMaxMs: number;
  /** Deliveries in flight at once. */
  concurrency?: number;
  /**
   * One organization's deliveries in flight at once, on all replicas (0: no cap): a receiver that
   * never answers holds its organization's slots for a timeout each, not everyone's.
   */
  perOrgConcurrency?: number;
  /** How often to look for due deliveries when told of nothing. */
  pollMs?: number;
}

export interface DeliveryDeps {
  store: DeliveryStore;
  accounts: AccountStore;
  ledger: TaskLedger;
  media: MediaStore;
  guard: OutboundTargetGuard;
  log: Logger;
  /** Told each attempt's outcome once recorded (the webhook attempts metric). */
  onAttempt?: (kind: string, outcome: 'delivered' | 'retry' | 'failed') => void;
}

/** The delay before retry number `attempt` (1 = the first retry): exponential, capped, with equal jitter. */
export function retryDelay(
  attempt: number,
  policy: Pick<DeliveryPolicy, 'backoffMs' | 'backoffMaxMs'>,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class DeliveryWorker extends LeasedQueueRunner<PendingDelivery> {
  private readonly owner = `deliveries-${randomUUID()}`;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly policy: DeliveryPolicy,
  ) {
    super({
      concurrency: policy.concurrency ?? 16,
      pollMs: policy.pollMs ?? 500,
      queue: deps.store,
      log: deps.log,
      failures: { run: 'recording a delivery attempt failed', lease: 'looking for due deliveries failed' },
    });
  }

  /** Before start: deliveries a dead process left mid-attempt are due again (where the backend can tell). */
  recover(): Promise<number> {
    return this.deps.store.releaseAbandonedDeliveries();
  }

  protected lease(now: number, count: number): Promise<PendingDelivery[]> {
    // A claim lasts as long as an attempt can, plus a margin; then another process may retry it.
    const leaseMs = this.policy.timeoutMs + 30_000;
    return this.deps.store.claimDue(this.owner, now, count, leaseMs, this.policy.perOrgConcurrency ?? 0);
  }

  protected run(d: PendingDelivery): Promise<void> {
    return this.attempt(d);
  }

  protected logFields(d: PendingDelivery): Record<string, unknown> {
    return { deliveryId: d.id };
  }

  private async attempt(d: PendingDelivery): Promise<void> {
    const number = d.attempts + 1;
    const startedAt = Date.now();
    let result: SendResult;
    try {
      result = await this.send(d, startedAt);
    } catch (err) {
      result = { statusCode: null, latencyMs: Date.now() - startedAt, error: (err as Error).message };
    }
    const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const attempt: DeliveryAttempt = {
      attempt: number,
      startedAt,
      ...result,
      error: delivered ? null : (result.error ?? `HTTP ${result.statusCode}`),
    };
    const next = delivered
      ? ({ state: 'delivered' } as const)
      : number >= this.policy.maxAttempts
        ? ({ state: 'failed' } as const)
        : ({ state: 'pending', retryAt: Date.now() + retryDelay(number, this.policy) } as const);
    await this.deps.store.recordAttempt(d.id, attempt, next);
    this.deps.onAttempt?.(d.kind, next.state === 'pending' ? 'retry' : next.state);
    if (next.state === 'failed')
      this.deps.log.warn(
        { deliveryId: d.id, taskUUID: d.taskUUID, kind: d.kind, attempts: number },
        'delivery failed for good',
      );
  }

  private async send(d: PendingDelivery, startedAt: number): Promise<SendResult> {
    // Checked again at send time: the answer may have changed since the task was submitted.
    const url = await this.deps.guard.check(d.url);
    const common = { url, timeoutMs: this.policy.timeoutMs, lookup: this.deps.guard.lookupFor(url) };
    if (d.kind === 'webhook') {
      const body = d.body ?? '';
      const secret = await this.deps.accounts.webhookSecret(d.orgId, generateWebhookSecret());
      const headers = {
        'content-type': 'application/json',
        ...signatureHeaders(secret, d.id, Math.floor(startedAt / 1000), body),
      };
      return sendRequest({ ...common, method: 'POST', headers, body: Buffer.from(body, 'utf8') });
    }
    const record = d.mediaUUID === null ? undefined : await this.deps.ledger.findMedia(d.orgId, d.mediaUUID);
    if (!record) return { statusCode: null, latencyMs: 0, error: 'the file to upload no longer exists' };
    const data = await this.deps.media.read(record);
    return sendRequest({
      ...common,
      method: 'PUT',
      headers: { 'content-type': CONTENT_TYPES[record.format] },
      body: data,
    });
  }
}
