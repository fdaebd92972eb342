// `runtrail keys retention`: how long an organization's tasks are kept. The server's sweeper
// deletes older tasks and their media; unset means the server default (RUNTRAIL_RETENTION_DAYS,
// or forever).

import type { Command } from 'commander';
import { ORG_HELP, organization, storageOptions, UsageError, withCliStorage } from './cli-storage.js';

export function registerRetentionCommand(keys: Command): void {
  storageOptions(keys.command('retention'))
    .description("show or set how many days an organization's tasks are kept (fractions allowed)")
    .option('--org <name>', ORG_HELP)
    .option('--days <n>', 'keep tasks this many days after they were created')
    .option('--default', 'use the server default again (RUNTRAIL_RETENTION_DAYS, or forever)')
    .action(async (opts: { org?: string; days?: string; default?: boolean; dataDir?: string }) => {
      if (opts.days !== undefined && opts.default) throw new UsageError('Give --days or --default, not both.');
      let days: number | null | undefined;
      if (opts.days !== undefined) {
        days = Number(opts.days);
        if (!/^\d*\.?\d+$/.test(opts.days) || !(days > 0))
          throw new UsageError(`--days must be a number above 0, got "${opts.days}"`);
      } else if (opts.default) days = null;
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        if (days !== undefined) await storage.accounts.setRetentionDays(org.id, days);
        const current = (await storage.accounts.listOrganizations()).find((o) => o.id === org.id)!.retentionDays;
        process.stdout.write(
          current === null
            ? `Organization '${org.name}' keeps tasks for the server default (RUNTRAIL_RETENTION_DAYS, or forever).\n`
            : `Organization '${org.name}' keeps tasks for ${current} day${current === 1 ? '' : 's'}.\n`,
        );
      });
    });
}
