// `runtrail keys archive`: which outputs of an organization's forwarded tasks runtrail keeps a copy
// of: all, none, or those up to N bytes each. Unset means the server default
// (RUNTRAIL_ARCHIVE_OUTPUTS); a server reads the policy when a task's results arrive, so a change
// applies to the next results without a restart.

import type { Command } from 'commander';
import { describePolicy, parseArchivePolicy } from '../archive/archive-policy.js';
import { ORG_HELP, organization, storageOptions, UsageError, withCliStorage } from './cli-storage.js';

export function registerArchivePolicyCommand(keys: Command): void {
  storageOptions(keys.command('archive'))
    .description("show or set which outputs of an organization's forwarded tasks are archived")
    .option('--org <name>', ORG_HELP)
    .option('--policy <policy>', '`all`, `none`, or a number of bytes (outputs up to that size each)')
    .option('--default', 'use the server default again (RUNTRAIL_ARCHIVE_OUTPUTS)')
    .action(async (opts: { org?: string; policy?: string; default?: boolean; dataDir?: string }) => {
      if (opts.policy !== undefined && opts.default) throw new UsageError('Give --policy or --default, not both.');
      const policy = opts.policy === undefined ? undefined : parseArchivePolicy(opts.policy);
      if (opts.policy !== undefined && policy === undefined)
        throw new UsageError(`--policy must be all, none or a number of bytes above 0, got "${opts.policy}"`);
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        if (policy !== undefined || opts.default) await storage.archives.setPolicy(org.id, policy);
        const current = await storage.archives.policyOf(org.id);
        process.stdout.write(
          current === undefined
            ? `Organization '${org.name}' archives what the server default says (RUNTRAIL_ARCHIVE_OUTPUTS).\n`
            : `Organization '${org.name}' archives ${describePolicy(current)}.\n`,
        );
      });
    });
}
