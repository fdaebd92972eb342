// `runtrail ledger verify | checkpoint | adopt | public-key | hold | release | holds`: the ledger's
// integrity from the command line (docs/ledger-integrity.md). Like the tasks commands they open
// the data folder (or DATABASE_URL) directly, beside a running server.

import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseTime } from '../history/task-filter.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import { loadSigner } from '../integrity/signing-key.js';
import { makeCheckpoint, parseCheckpoint, type Checkpoint } from '../integrity/checkpoint.js';
import { verifyLedger, type VerifyReport } from '../integrity/verify-ledger.js';
import type { Problem } from '../integrity/problems.js';
import {
  organization,
  ORG_HELP,
  storageOptions,
  UsageError,
  withCliStorage,
  type StorageFlags,
} from './cli-storage.js';
import { out } from './output.js';
import { adoptUnchainedTasks } from '../integrity/adopt-tasks.js';

/** Exit status of a verification that found the ledger changed (1 is a mistake in the command). */
export const EXIT_BROKEN = 2;

type VerifyFlags = StorageFlags & {
  org?: string;
  since?: string;
  checkpoint?: string;
  publicKey?: string;
  skipMedia?: boolean;
  json?: boolean;
};

export function describeProblem(p: Problem): string {
  const where = p.lane !== undefined && p.seq !== undefined ? ` at entry ${p.lane}#${p.seq}` : '';
  const task = p.taskUUID ? ` task ${p.taskUUID}` : '';
  const field = p.field ? ` (${p.field})` : '';
  return `${p.kind}${task}${where}${field}: ${p.detail}`;
}

function printReport(r: VerifyReport): void {
  out(
    `Checked ${r.entries} chain entries in ${r.lanes} lane${r.lanes === 1 ? '' : 's'} of ${r.organizations} organization${r.organizations === 1 ? '' : 's'}` +
      ` (${r.compared} compared with the ledger, ${r.mediaFilesChecked} media files read) in ${r.elapsedMs} ms.\n`,
  );
  if (r.checkpoint)
    out(`Checkpoint of ${r.checkpoint.createdAt} (key ${r.checkpoint.keyId}, ${r.checkpoint.lanes} lanes).\n`);
  if (r.ok) {
    out('OK: the ledger is unchanged.\n');
    return;
  }
  out(
    `BROKEN: ${r.problemCount} problem${r.problemCount === 1 ? '' : 's'}. First:\n  ${describeProblem(r.firstProblem!)}\n`,
  );
  for (const p of r.problems.slice(1, 10)) out(`  ${describeProblem(p)}\n`);
}

function readCheckpoint(file: string): Checkpoint {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`Cannot read the checkpoint file ${file}.`);
  }
  try {
    return parseCheckpoint(text);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}.`);
  }
}

function readPublicKey(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`Cannot read the public key file ${file}.`);
  }
}

export function registerLedgerCommands(program: Command): void {
  const ledger = program
    .command('ledger')
    .description('prove the ledger unchanged: verify its hash chain, export signed checkpoints, place legal holds');

  storageOptions(ledger.command('verify'))
    .description('recompute the hash chain and compare it with every task, result and media file; exit 2 when broken')
    .option('--org <name>', 'only this organization (default: all)')
    .option('--since <time>', 'compare contents only of entries recorded since (links are checked from the start)')
    .option('--checkpoint <file>', 'also prove the ledger unchanged up to this signed checkpoint')
    .option('--public-key <file>', 'the checkpoint must be signed with this key (PEM; default: the key it carries)')
    .option('--skip-media', 'do not read the media files (their records are still compared)')
    .option('--json', 'print the report as JSON (as GET /api/ledger/verify does)')
    .action(async (opts: VerifyFlags) => {
      await withCliStorage(opts, async ({ storage, media }) => {
        const orgId = opts.org === undefined ? undefined : (await organization(storage, opts.org)).id;
        const report = await verifyLedger(storage, media, {
          orgId,
          since: parseTime(opts.since, 'since'),
          checkpoint: opts.checkpoint === undefined ? undefined : readCheckpoint(opts.checkpoint),
          trustedPublicKeyPem: readPublicKey(opts.publicKey),
          checkMedia: opts.skipMedia !== true,
        });
        if (opts.json) out(JSON.stringify(report, null, 2) + '\n');
        else printReport(report);
        if (!report.ok) process.exitCode = EXIT_BROKEN;
      });
    });

  storageOptions(ledger.command('checkpoint'))
    .description('write a signed checkpoint of the chain heads (give it to a third party; verify --checkpoint uses it)')
    .option('--org <name>', 'only this organization (default: all)')
    .option('--out <file>', 'where to write it (default: stdout)')
    .action(async (opts: StorageFlags & { org?: string; out?: string }) => {
      await withCliStorage(opts, async ({ storage, config }) => {
        const orgIds = opts.org === undefined ? undefined : [(await organization(storage, opts.org)).id];
        const checkpoint = await makeCheckpoint(storage.chain, loadSigner(config), orgIds);
        const text = JSON.stringify(checkpoint, null, 2) + '\n';
        if (opts.out === undefined) out(text);
        else {
          writeFileSync(opts.out, text);
          process.stderr.write(`Wrote a checkpoint of ${checkpoint.heads.length} lane heads to ${opts.out}.\n`);
        }
      });
    });

  storageOptions(ledger.command('adopt'))
    .description(
      'append chain entries for tasks recorded before the chain existed (verify reports them as row-inserted until then)',
    )
    .option('--org <name>', 'only this organization (default: all)')
    .option('--before <time>', 'adopt only tasks created before this (default: when the chain began on this ledger)')
    .action(async (opts: StorageFlags & { org?: string; before?: string }) => {
      await withCliStorage(opts, async ({ storage }) => {
        const before = parseTime(opts.before, 'before') ?? (await storage.chain.chainStartedAt());
        if (before === null)
          throw new UsageError('This ledger does not say when its chain began: give --before <time>.');
        const orgs =
          opts.org === undefined ? await storage.accounts.listOrganizations() : [await organization(storage, opts.org)];
        for (const org of orgs) {
          const { adopted, left } = await adoptUnchainedTasks(storage, org.id, before);
          if (adopted === 0 && left === 0) continue;
          out(
            `Organization '${org.name}': adopted ${adopted} task${adopted === 1 ? '' : 's'} created before ${new Date(before).toISOString()}.\n`,
          );
          if (left > 0)
            out(
              `  ${left}${left >= 500 ? ' or more' : ''} task${left === 1 ? '' : 's'} without an entry created since were left; verify reports them.\n`,
            );
        }
      });
    });

  storageOptions(ledger.command('public-key'))
    .description('print the public key that checks checkpoints, export proofs and deletion receipts (PEM)')
    .action(async (opts: StorageFlags) => {
      await withCliStorage(opts, async ({ config }) => {
        out(loadSigner(config).publicKeyPem);
      });
    });

  storageOptions(ledger.command('hold'))
    .description('place a legal hold on an organization (or one task): nothing of it is deleted until released')
    .option('--org <name>', ORG_HELP)
    .option('--task <taskUUID>', 'hold only this task')
    .requiredOption('--reason <text>', 'why (shown to whoever tries to delete)')
    .action(async (opts: StorageFlags & { org?: string; task?: string; reason: string }) => {
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        const taskUUID = taskOption(opts.task);
        await storage.chain.placeHold({ orgId: org.id, taskUUID, reason: opts.reason, createdAt: Date.now() });
        out(`Legal hold placed on ${taskUUID ? `task ${taskUUID} of ` : ''}organization '${org.name}'.\n`);
      });
    });

  storageOptions(ledger.command('release'))
    .description('lift a legal hold')
    .option('--org <name>', ORG_HELP)
    .option('--task <taskUUID>', "the task's hold (default: the organization's)")
    .action(async (opts: StorageFlags & { org?: string; task?: string }) => {
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        const taskUUID = taskOption(opts.task);
        if (!(await storage.chain.liftHold(org.id, taskUUID)))
          throw new UsageError(
            `There is no legal hold on ${taskUUID ? `task ${taskUUID} of ` : ''}organization '${org.name}'.`,
          );
        out(`Legal hold lifted from ${taskUUID ? `task ${taskUUID} of ` : ''}organization '${org.name}'.\n`);
      });
    });

  storageOptions(ledger.command('holds'))
    .description("list an organization's legal holds")
    .option('--org <name>', ORG_HELP)
    .action(async (opts: StorageFlags & { org?: string }) => {
      await withCliStorage(opts, async ({ storage }) => {
        const org = await organization(storage, opts.org);
        const holds = await storage.chain.listHolds(org.id);
        if (holds.length === 0) out(`No legal holds in organization '${org.name}'.\n`);
        for (const h of holds)
          out(`${h.taskUUID ?? 'organization'}  since ${new Date(h.createdAt).toISOString()}  ${h.reason}\n`);
      });
    });
}

function taskOption(task: string | undefined): string | null {
  if (task === undefined) return null;
  if (!looksLikeUuid(task)) throw new UsageError(`--task ${task} is not a UUID.`);
  return task.toLowerCase();
}
