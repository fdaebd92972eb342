// How a delivery and its attempts are shown to people (HTTP API, CLI, explorer): times as ISO
// strings, the webhook body left out (it is the result itself, readable with getResponse).

import type { DeliveryRecord } from '../ledger/types.js';

export function deliveryView(d: DeliveryRecord) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: d.id,
    kind: d.kind,
    url: d.url,
    itemIndex: d.itemIndex,
    ...(d.mediaUUID === null ? {} : { mediaUUID: d.mediaUUID }),
    state: d.state,
    createdAt: iso(d.createdAt),
    nextAttemptAt: iso(d.nextAttemptAt),
    finishedAt: iso(d.finishedAt),
    attempts: d.attempts.map((a) => ({
      attempt: a.attempt,
      at: iso(a.startedAt),
      statusCode: a.statusCode,
      latencyMs: a.latencyMs,
      error: a.error,
    })),
  };
}
