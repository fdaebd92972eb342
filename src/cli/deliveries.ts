// `runtrail keys webhook-secret` shows or rotates an organization's webhook signing secret;
// `runtrail tasks deliveries <taskUUID>` lists a task's webhook and upload deliveries with every
// attempt. Both open the data folder (or DATABASE_URL) directly, like the other commands.

import type { Command } from 'commander';
import { isCanonicalUuid } from '../protocol/uuid.js';
import { deliveryView } from '../webhooks/delivery-view.js';
import { generateWebhookSecret } from '../webhooks/signing.js';
import { ORG_HELP, organization, storageOptions, UsageError, withCliStorage } from './cli-storage.js';

const out = (text: string): void => {
  process.stdout.write(text);
};

export function registerDeliveryCommands(keys: Command, tasks: Command): void {
  storageOptions(keys.command('webhook-secret'))
    .description("show the organization's webhook signing secret (whsec_…, Standard Webhooks), or --rotate it")
    .option('--org <name>', ORG_HELP)
    .option('--rotate', 'replace the secret; deliveries from now on are signed with the new one')
    .action(async (opts: { org?: string; rotate?: boolean; dataDir?: string }) => {
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        let secret: string;
        if (opts.rotate) {
          secret = generateWebhookSecret();
          await storage.accounts.setWebhookSecret(org.id, secret);
          out(`Rotated the webhook secret of organization '${org.name}'. Deliveries from now on are signed with:\n`);
        } else {
          secret = await storage.accounts.webhookSecret(org.id, generateWebhookSecret());
          out(`Webhook secret of organization '${org.name}' (verify webhook-signature with it):\n`);
        }
        out(secret + '\n');
      });
    });

  storageOptions(tasks.command('deliveries'))
    .description("a task's webhook POSTs and uploads, with every attempt (time, HTTP status, latency, error)")
    .argument('<taskUUID>')
    .option('--org <name>', 'organization (default: look in every organization)')
    .option('--json', 'print JSON, as GET /api/tasks/:taskUUID/deliveries does')
    .action(async (uuid: string, opts: { org?: string; json?: boolean; dataDir?: string }) => {
      if (!isCanonicalUuid(uuid)) throw new UsageError(`'${String(uuid)}' is not a taskUUID.`);
      await withCliStorage(opts, async ({ storage }) => {
        const orgId = opts.org === undefined ? undefined : (await organization(storage, opts.org)).id;
        const deliveries = (await storage.deliveries.listForTask(uuid, orgId)).map(deliveryView);
        if (opts.json) {
          out(JSON.stringify({ taskUUID: uuid, deliveries }, null, 2) + '\n');
          return;
        }
        if (deliveries.length === 0) out(`No deliveries recorded for task ${uuid}.\n`);
        for (const d of deliveries) {
          const media = d.mediaUUID ? ` file ${d.mediaUUID}` : '';
          out(
            `${d.kind} ${d.id} result ${d.itemIndex}${media} -> ${d.url}: ${d.state}${d.nextAttemptAt ? ` (next attempt ${d.nextAttemptAt})` : ''}\n`,
          );
          for (const a of d.attempts) {
            out(
              `  #${a.attempt} ${a.at}  ${a.statusCode ?? '---'}  ${String(a.latencyMs).padStart(5)} ms  ${a.error ?? 'ok'}\n`,
            );
          }
        }
      });
    });
}
