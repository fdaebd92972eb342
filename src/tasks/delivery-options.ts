// How a task's results travel, common to every recorded task type: `deliveryMethod` (sync: in the
// reply; async: acknowledged at once, then getResponse), `webhookURL` (one signed POST per result)
// and `uploadEndpoint` (one PUT per produced file). The dispatcher reads them here, so task
// modules validate only their own parameters and every task type gets async delivery alike.

import { randomUUID } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import type { MediaRecord, NewDelivery } from '../ledger/types.js';
import { OutboundTargetRefused, type OutboundTargetGuard } from '../webhooks/outbound-target.js';

export const DELIVERY_METHODS = ['sync', 'async'] as const;
/** `stream` only for task types that stream (textInference: Server-Sent Events, transport/text-stream.ts). */
export const STREAMING_DELIVERY_METHODS = ['sync', 'async', 'stream'] as const;

export interface DeliveryOptions {
  method: (typeof STREAMING_DELIVERY_METHODS)[number];
  webhookURL: string | undefined;
  uploadEndpoint: string | undefined;
}

const URL_PARAMETERS = ['webhookURL', 'uploadEndpoint'] as const;
const MAX_URL_LENGTH = 2048;

/** Splits a task object into its delivery options and the parameters its module validates. */
export function splitDeliveryOptions(
  task: Record<string, unknown>,
  streams = false,
): { options: DeliveryOptions; params: Record<string, unknown> } {
  const { deliveryMethod, webhookURL, uploadEndpoint, ...params } = task;
  const allowed: readonly string[] = streams ? STREAMING_DELIVERY_METHODS : DELIVERY_METHODS;
  if (deliveryMethod !== undefined && !allowed.includes(deliveryMethod as string)) {
    const reason = `Allowed values: ${allowed.map((m) => `"${m}"`).join(', ')}.`;
    throw new ProtocolError(
      'invalidDeliveryMethod',
      { parameter: 'deliveryMethod', reason },
      {
        parameter: 'deliveryMethod',
        type: 'string',
        allowedValues: allowed,
      },
    );
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
      method: (deliveryMethod as DeliveryOptions['method'] | undefined) ?? 'sync',
      webhookURL: webhookURL as string | undefined,
      uploadEndpoint: uploadEndpoint as string | undefined,
    },
    params,
  };
}

/**
 * The delivery options for a task type that takes only some methods: its first method when the
 * task names none, invalidDeliveryMethod when it names another.
 */
export function restrictDelivery(
  options: DeliveryOptions,
  named: unknown,
  taskType: string,
  allowed: readonly DeliveryOptions['method'][] | undefined,
): DeliveryOptions {
  if (allowed === undefined || allowed.length === 0) return options;
  if (named === undefined) return { ...options, method: allowed[0]! };
  if (allowed.includes(options.method)) return options;
  const methods = allowed.map((m) => `"${m}"`).join(', ');
  throw new ProtocolError(
    'invalidDeliveryMethod',
    {
      parameter: 'deliveryMethod',
      reason:
        `${taskType} runs only with deliveryMethod ${methods}: send it so and read its results with getResponse ` +
        '(or a webhookURL).',
    },
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
