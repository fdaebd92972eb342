// How a task's results travel, common to every recorded task type: `deliveryMethod` (sync: in the
// reply; async: acknowledged at once, then getResponse), `webhookURL` (one signed POST per result)
// and `uploadEndpoint` (one PUT per produced file). The dispatcher reads them here, so task
// modules validate only their own parameters and every task type gets async delivery alike.

import { randomUUID } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import type { MediaRecord, NewDelivery } from '../ledger/types.js';
import { OutboundTargetRefused, type OutboundTargetGuard } from '../webhooks/outbound-target.js';

/** Every delivery method; a task type takes `sync` and `async` unless its module says otherwise. */
export const DELIVERY_METHODS = ['sync', 'async', 'stream'] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];
const USUAL_DELIVERIES: readonly DeliveryMethod[] = ['sync', 'async'];

export interface DeliveryOptions {
  method: DeliveryMethod;
  webhookURL: string | undefined;
  uploadEndpoint: string | undefined;
}

const URL_PARAMETERS = ['webhookURL', 'uploadEndpoint'] as const;
const MAX_URL_LENGTH = 2048;

/**
 * Splits a task object into its delivery options and the parameters its module validates.
 * `allowed` are the methods its task type takes (the module's `deliveries`); without
 * deliveryMethod a task is sync when its type allows that, else it takes the first allowed.
 */
export function splitDeliveryOptions(
  task: Record<string, unknown>,
  taskType: string,
  allowed: readonly DeliveryMethod[] = USUAL_DELIVERIES,
): { options: DeliveryOptions; params: Record<string, unknown> } {
  const { deliveryMethod, webhookURL, uploadEndpoint, ...params } = task;
  if (deliveryMethod !== undefined && !allowed.includes(deliveryMethod as DeliveryMethod)) {
    throw invalidDeliveryMethod(taskType, allowed);
  }
  const urls = { webhookURL, uploadEndpoint };
  for (const name of URL_PARAMETERS) {
    const value = urls[name];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL_LENGTH)) {
      throw invalidUrl(name, `It must be an http:// or https:// URL of at most ${MAX_URL_LENGTH} characters.`);
    }
  }
  return {
    options: {
      method: (deliveryMethod as DeliveryMethod | undefined) ?? (allowed.includes('sync') ? 'sync' : allowed[0]!),
      webhookURL: webhookURL as string | undefined,
      uploadEndpoint: uploadEndpoint as string | undefined,
    },
    params,
  };
}

function invalidDeliveryMethod(taskType: string, allowed: readonly DeliveryMethod[]): ProtocolError {
  const methods = allowed.map((m) => `"${m}"`).join(', ');
  // A task type that cannot answer in the reply says how to get its results instead.
  const reason = allowed.includes('sync')
    ? `Allowed values: ${methods}.`
    : `${taskType} runs only with deliveryMethod ${methods}: send it so and read its results with getResponse ` +
      '(or a webhookURL).';
  return new ProtocolError(
    'invalidDeliveryMethod',
    { parameter: 'deliveryMethod', reason },
    { parameter: 'deliveryMethod', type: 'string', allowedValues: allowed },
  );
}

/** Refuses webhook and upload URLs that are malformed or reach a non-public address (at submit time). */
export async function checkDeliveryTargets(options: DeliveryOptions, guard: OutboundTargetGuard): Promise<void> {
  for (const name of URL_PARAMETERS) {
    const value = options[name];
    if (value === undefined) continue;
    try {
      await guard.check(value);
    } catch (err) {
      if (err instanceof OutboundTargetRefused) throw invalidUrl(name, err.message);
      throw err;
    }
  }
}

function invalidUrl(name: (typeof URL_PARAMETERS)[number], why: string): ProtocolError {
  const code = name === 'webhookURL' ? 'invalidWebhookURL' : 'invalidUploadEndpoint';
  return new ProtocolError(code, { parameter: name, reason: why }, { parameter: name, type: 'string' });
}

/** The outbound deliveries one result causes: a webhook POST of its text, an upload of each file. */
export function deliveriesFor(
  options: DeliveryOptions,
  task: { orgId: string; taskUUID: string },
  itemIndex: number,
  itemText: string,
  media: readonly MediaRecord[],
): NewDelivery[] {
  const out: NewDelivery[] = [];
  const base = { orgId: task.orgId, taskUUID: task.taskUUID, itemIndex, createdAt: Date.now() };
  if (options.webhookURL !== undefined) {
    out.push({ ...base, id: messageId(), kind: 'webhook', url: options.webhookURL, body: itemText, mediaUUID: null });
  }
  if (options.uploadEndpoint !== undefined) {
    for (const m of media)
      out.push({
        ...base,
        id: messageId(),
        kind: 'upload',
        url: options.uploadEndpoint,
        body: null,
        mediaUUID: m.mediaUUID,
      });
  }
  return out;
}

/** A Standard Webhooks message id: unique per delivery, the same on every retry of it. */
function messageId(): string {
  return `msg_${randomUUID().replace(/-/g, '')}`;
}
