// `runtrail serve | keys | tasks | migrate`: the command line, built with commander.

import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type ConfigFlags } from '../config.js';
import { SETTINGS, flagHelp, type Setting, type SettingName } from '../settings.js';
import { createApiKey } from '../accounts/api-keys.js';
import { migrateStorage, openStorage } from '../ledger/open-storage.js';
import type { Storage } from '../ledger/types.js';
// The server (Fastify, sharp, engines) loads only for `serve`: the other commands start ~1 s faster.
import { registerRetentionCommand } from './retention.js';
import { registerArchivePolicyCommand } from './archive-policy.js';
import { defaultOrganizationName, UsageError } from './cli-storage.js';
import { registerTasksCommands } from './tasks.js';
import { registerDeliveryCommands } from './deliveries.js';
import { describeUsage, registerKeyLimitCommands, usageOfKeys } from './keys-limits.js';
import { registerLedgerCommands } from './ledger.js';

// A reader that stops early (`runtrail tasks list | head`) closes the pipe: the output is
// simply no longer wanted, so the command ends quietly instead of crashing with EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const program = new Command('runtrail').description(
  'Self-hostable Runware-protocol task server with a byte-exact task ledger',
);

const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

const serve = program
  .command('serve')
  .description('start the server (REST and media on one port)')
  .action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    const { createLogger, startServer } = await import('../server.js');
    const log = createLogger(config);
    const server = await startServer(config, log, say);
    say(`runtrail listening on ${server.url} (data in ${config.dataDir})`);
    say(`Task explorer: ${server.url}/explorer`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
// The serve flags, each setting the environment variable of the same setting (src/settings.ts).
for (const name of Object.keys(SETTINGS) as SettingName[]) {
  const setting: Setting = SETTINGS[name];
  if (setting.flag !== undefined) serve.addOption(new Option(setting.flag, flagHelp(name)));
}

program
  .command('migrate')
  .description('bring the database schema up to date (SQLite in the data folder, or DATABASE_URL)')
  .addOption(new Option('--data-dir <dir>', flagHelp('RUNTRAIL_DATA_DIR')))
  .addOption(new Option('--database-url <url>', flagHelp('DATABASE_URL')))
  .action(async (opts: { dataDir?: string; databaseUrl?: string }) => {
    const { backend, applied } = await migrateStorage(loadConfig(process.env, opts));
    say(
      applied.length === 0
        ? `${backend}: schema already up to date`
        : `${backend}: applied migrations ${applied.join(', ')}`,
    );
  });

const keys = program.command('keys').description('manage organizations and API keys');
const dataDirOption = () => new Option('--data-dir <dir>', flagHelp('RUNTRAIL_DATA_DIR'));

keys
  .command('create')
  .description('create an API key (and the organization if new); the key is the last line printed')
  .option('--org <name>', "organization name (default: the only one there is, else 'default')")
  .option('--label <text>', 'a note to recognise the key by')
  .addOption(dataDirOption())
  .action(async (opts: { org?: string; label?: string; dataDir?: string }) => {
    await withStorage(opts.dataDir, async (storage) => {
      const orgName = opts.org ?? (await defaultOrganizationName(storage));
      const { key, info } = await createApiKey(storage.accounts, orgName, opts.label ?? null);
      say(
        `Created key ${info.id} (${info.prefix}…) for organization '${info.orgName}'. Store it now: it is not shown again.`,
      );
      say(key);
    });
  });

keys
  .command('list')
  .description('list API keys (prefixes only; keys themselves are never stored)')
  .option('--org <name>', 'only this organization')
  .option('--json', 'print JSON')
  .addOption(dataDirOption())
  .action(async (opts: { org?: string; json?: boolean; dataDir?: string }) => {
    await withStorage(opts.dataDir, async (storage) => {
      const list = await storage.accounts.listApiKeys(opts.org);
      const usage = await usageOfKeys(storage, list);
      if (opts.json) {
        say(
          JSON.stringify(
            list.map((k) => ({ ...k, limits: usage.get(k.id) })),
            null,
            2,
          ),
        );
        return;
      }
      say(
        ['ID'.padEnd(36), 'PREFIX'.padEnd(12), 'ORGANIZATION'.padEnd(16), 'CREATED'.padEnd(24), 'STATUS', 'LABEL'].join(
          '  ',
        ),
      );
      for (const k of list) {
        say(
          [
            k.id,
            k.prefix.padEnd(12),
            k.orgName.padEnd(16),
            new Date(k.createdAt).toISOString().padEnd(24),
            (k.revokedAt ? 'revoked' : 'active').padEnd(6),
            k.label ?? '',
          ].join('  '),
        );
      }
      // Budgets and rate limits below the table (a column would not fit them): the organizations' first, then keys'.
      const limited = list.filter((k) => usage.get(k.id)?.apiKey);
      const orgs = new Map(list.filter((k) => usage.get(k.id)?.organization).map((k) => [k.orgId, k]));
      if (orgs.size + limited.length > 0) say('\nLIMITS');
      for (const k of orgs.values())
        say(`organization '${k.orgName}': ${describeUsage(usage.get(k.id)?.organization)}`);
      for (const k of limited) say(`key ${k.prefix}… (${k.id}): ${describeUsage(usage.get(k.id)?.apiKey)}`);
    });
  });

keys
  .command('revoke')
  .description('revoke a key by its id or prefix')
  .argument('<key-id-or-prefix>')
  .addOption(dataDirOption())
  .action(async (id: string, opts: { dataDir?: string }) => {
    await withStorage(opts.dataDir, async (storage) => {
      const n = await storage.accounts.revokeApiKey(id);
      if (n === 0) {
        process.stderr.write(`No active key with id or prefix '${id}'.\n`);
        process.exitCode = 1;
      } else say(`Revoked ${n} key${n === 1 ? '' : 's'}.`);
    });
  });

async function withStorage(dataDir: string | undefined, run: (s: Storage) => Promise<void>): Promise<void> {
  const storage = await openStorage(loadConfig(process.env, { dataDir }));
  try {
    await run(storage);
  } finally {
    await storage.close();
  }
}

registerRetentionCommand(keys);
registerKeyLimitCommands(keys);
registerArchivePolicyCommand(keys);
registerTasksCommands(program);
registerLedgerCommands(program);
registerDeliveryCommands(
  keys,
  program.commands.find((c) => c.name() === 'tasks')!,
);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(
    `runtrail: ${err instanceof ConfigError || err instanceof UsageError ? err.message : err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
