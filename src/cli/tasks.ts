// `runtrail tasks list | show | export | import | delete`: the task history from the command
// line. The commands open the data folder (or DATABASE_URL) directly, so they work while the
// server runs and without an API key; `--org` names the organization they act for.

import { Option, type Command } from 'commander';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  decodeCursor,
  encodeCursor,
  parseLimit,
  parseTaskFilter,
  parseTime,
  type FilterInput,
} from '../history/task-filter.js';
import { taskSummary } from '../history/task-summary.js';
import type { MediaRecord, StoredTask, TaskFilter, TaskWithMedia } from '../ledger/types.js';
import { isCanonicalUuid } from '../protocol/uuid.js';
import { currentResponseText } from '../tasks/task-state.js';
import { indentJson } from './json-indent.js';
import {
  defaultOrganizationName,
  organization,
  ORG_HELP,
  storageOptions,
  UsageError,
  withCliStorage,
  type StorageFlags,
} from './cli-storage.js';
import { exportLine, importLine, mediaCopies } from './task-export.js';
import { archiveLine } from '../archive/archive-view.js';
import { clip, out, ProgressBar, table } from './output.js';
import { writeExportProof, verifyExport } from '../integrity/export-proof.js';
import { loadSigner } from '../integrity/signing-key.js';
import { deletionReceipt } from '../integrity/receipt.js';
import type { Tombstone } from '../ledger/chain-types.js';
import { describeProblem, EXIT_BROKEN } from './ledger.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { jsonPieces } from '../protocol/json-chunks.js';

const EXPORT_PAGE = 200;
const DELETE_BATCH = 500;
const IMPORT_BATCH = 500;

function filterOptions(cmd: Command): Command {
  return cmd
    .option('--type <taskType>', 'only this task type')
    .option('--status <status>', 'processing, success or error')
    .option('--model <air>', 'only this model')
    .option('--since <time>', 'created at or after: ISO date/time, ms since epoch, or 7d / 12h / 30m ago')
    .option('--until <time>', 'created before (same forms as --since)')
    .option('--text <text>', 'text in the request (the prompt), ASCII case ignored');
}

type FilterFlags = { type?: string; status?: string; model?: string; since?: string; until?: string; text?: string };

function filterFrom(flags: FilterFlags): TaskFilter {
  const input: FilterInput = {
    taskType: flags.type,
    status: flags.status,
    model: flags.model,
    since: flags.since,
    until: flags.until,
    text: flags.text,
  };
  return parseTaskFilter(input);
}

export function registerTasksCommands(program: Command): void {
  const tasks = program.command('tasks').description('see, search, export, import and delete recorded tasks');

  storageOptions(filterOptions(tasks.command('list')))
    .description('list tasks, newest first')
    .option('--org <name>', ORG_HELP)
    .option('--limit <n>', 'tasks per page (default 50, at most 10000)')
    .option('--cursor <cursor>', 'continue after a previous page (printed at its end)')
    .option('--json', 'print JSON: {data, counts, nextCursor}, as GET /api/tasks does')
    .action(
      async (opts: FilterFlags & StorageFlags & { org?: string; limit?: string; cursor?: string; json?: boolean }) => {
        await withCliStorage(opts, async ({ storage }) => {
          const org = await organization(storage, opts.org);
          const filter = filterFrom(opts);
          const limit = parseLimit(opts.limit, 50, 10_000);
          const [page, counts] = await Promise.all([
            storage.ledger.listTasks(org.id, filter, decodeCursor(opts.cursor), limit),
            storage.ledger.countTasks(org.id, filter),
          ]);
          const nextCursor = page.next ? encodeCursor(page.next) : null;
          if (opts.json) {
            out(JSON.stringify({ data: page.tasks.map(taskSummary), counts, nextCursor }, null, 2) + '\n');
            return;
          }
          const rows = page.tasks
            .map(taskSummary)
            .map((t) => [
              t.createdAt.replace('T', ' ').slice(0, 19),
              t.taskUUID,
              t.taskType,
              t.status,
              t.model ?? '-',
              t.cost === null ? '-' : `$${t.cost}`,
              t.durationMs === null ? '-' : `${t.durationMs}ms`,
              clip(t.prompt ?? '', 40),
            ]);
          out(table(['CREATED (UTC)', 'TASK UUID', 'TYPE', 'STATUS', 'MODEL', 'COST', 'TIME', 'PROMPT'], rows));
          out(
            `${page.tasks.length} shown of ${counts.total} (${counts.success} success, ${counts.error} error, ${counts.processing} processing)\n`,
          );
          if (nextCursor) out(`more: --cursor ${nextCursor}\n`);
        });
      },
    );

  storageOptions(tasks.command('show'))
    .description('show one task: its details, request and response (indented), or --raw for the exact stored bytes')
    .argument('<taskUUID>')
    .option('--org <name>', ORG_HELP)
    .addOption(
      new Option('--raw [part]', 'print the stored text exactly: request, response, or both (one per line)').choices([
        'request',
        'response',
        'both',
      ]),
    )
    .action(
      async (uuid: string, opts: StorageFlags & { org?: string; raw?: true | 'request' | 'response' | 'both' }) => {
        await withCliStorage(opts, async ({ storage, media }) => {
          const org = await organization(storage, opts.org);
          const task = isCanonicalUuid(uuid) ? await storage.ledger.findTask(org.id, uuid) : undefined;
          if (!task) throw new UsageError(`No task ${uuid} in organization '${org.name}'.`);
          if (opts.raw !== undefined) {
            const part = opts.raw === true ? 'both' : opts.raw;
            const response = task.responseText ?? (await currentResponseText(task, storage));
            out(
              part === 'request'
                ? task.requestText
                : part === 'response'
                  ? response
                  : `${task.requestText}\n${response}\n`,
            );
            return;
          }
          const s = taskSummary(task);
          const files = await storage.ledger.listTaskMedia(org.id, task.taskUUID);
          const lines: [string, string][] = [
            ['taskUUID', s.taskUUID],
            ['taskType', s.taskType],
            ['status', s.status + (s.errorCode ? ` (${s.errorCode})` : '')],
            ['model', s.model ?? '-'],
            ['engine', s.engine ?? '-'],
            ['transport', s.transport],
            ['created', s.createdAt],
            ['completed', s.completedAt ?? '-'],
            ['duration', s.durationMs === null ? '-' : `${s.durationMs} ms`],
            ['cost', s.cost === null ? '-' : `$${s.cost}`],
          ];
          for (const [k, v] of lines) out(`${k.padEnd(10)} ${v}\n`);
          for (const m of files)
            out(
              `${'media'.padEnd(10)} ${m.mediaUUID}.${m.format} ${m.width}x${m.height} ${m.bytes} bytes  ${media.locationOf(m)}\n`,
            );
          // Outputs of a forwarded task: runtrail's copy (a media line above) or why there is none.
          for (const a of await storage.archives.listForTask(org.id, task.taskUUID))
            out(`${'archive'.padEnd(10)} ${archiveLine(a)}\n`);
          // A running task shows what it has so far: the results recorded, processing for the rest.
          const response = task.responseText ?? (await currentResponseText(task, storage));
          out(`\nrequest:\n${indentJson(task.requestText)}\n\nresponse:\n${indentJson(response)}\n`);
        });
      },
    );

  storageOptions(filterOptions(tasks.command('export')))
    .description('write tasks (exact request and response texts) as NDJSON, one task per line, oldest last')
    .option('--org <name>', ORG_HELP)
    .requiredOption('--ndjson <file>', 'where to write ("-" for stdout)')
    .option('--with-media', 'embed the media files (base64) so import can restore them')
    .option('--no-proof', 'do not write the chain entries and the signed proof beside the file')
    .action(
      async (
        opts: FilterFlags & StorageFlags & { org?: string; ndjson: string; withMedia?: boolean; proof: boolean },
      ) => {
        await withCliStorage(opts, async ({ storage, media, config }) => {
          const org = await organization(storage, opts.org);
          const filter = filterFrom(opts);
          const startedAt = Date.now();
          const { total } = await storage.ledger.countTasks(org.id, filter);
          const toStdout = opts.ndjson === '-';
          const temp = `${opts.ndjson}.partial`;
          const sink = toStdout ? process.stdout : createWriteStream(temp);
          const progress = new ProgressBar('exporting', total, 'tasks');
          let written = 0;
          let cursor = null;
          // A page of keys, then one task at a time, each line written in pieces: a ledger of
          // 30 MiB requests is exported holding one of them (and a piece of its line) at once.
          do {
            const page = await storage.ledger.listTaskKeys(org.id, filter, cursor, EXPORT_PAGE);
            for (const { taskUUID } of page.keys) {
              const task = await storage.ledger.findTask(org.id, taskUUID);
              if (!task) continue; // deleted since the page was read
              // Archives before media, so an output archived meanwhile comes with its file (one commit writes both).
              const archived = await storage.archives.listForTask(org.id, task.taskUUID);
              const files = await storage.ledger.listTaskMedia(org.id, task.taskUUID);
              const line = await exportLine(task, files, opts.withMedia ? media : undefined, archived);
              for (const piece of jsonPieces(line)) if (!sink.write(piece)) await once(sink, 'drain');
              if (!sink.write('\n')) await once(sink, 'drain');
              progress.update(++written);
            }
            cursor = page.next;
          } while (cursor);
          if (!toStdout) {
            const closed = once(sink, 'close');
            sink.end();
            await closed;
            await rename(temp, opts.ndjson);
          }
          progress.done();
          process.stderr.write(
            `Exported ${written} task${written === 1 ? '' : 's'} of organization '${org.name}'${toStdout ? '' : ` to ${opts.ndjson}`}.\n`,
          );
          if (!toStdout && opts.proof) {
            const proof = await writeExportProof(opts.ndjson, storage.chain, loadSigner(config), {
              orgId: org.id,
              startedAt,
              filtered: Object.keys(filter).length > 0,
              tasks: written,
            });
            process.stderr.write(
              `Wrote ${proof.chain.entries} chain entries to ${proof.chain.file} and the signed proof (key ${proof.keyId}) to ${opts.ndjson}.proof.json.\n`,
            );
          }
        });
      },
    );

  tasks
    .command('verify-export')
    .description('check an export offline (no server, no database): its signed proof, chain entries and every task')
    .argument(
      '<file>',
      'the NDJSON file written by `runtrail tasks export` (its .chain.ndjson and .proof.json beside it)',
    )
    .option('--public-key <file>', 'the key the proof must be signed with (PEM, from `runtrail ledger public-key`)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { publicKey?: string; json?: boolean }) => {
      let trusted: string | undefined;
      if (opts.publicKey !== undefined) {
        try {
          trusted = readFileSync(opts.publicKey, 'utf8');
        } catch {
          throw new UsageError(`Cannot read the public key file ${opts.publicKey}.`);
        }
      }
      const report = await verifyExport(file, trusted).catch((err: unknown) => {
        throw new UsageError((err as Error).message);
      });
      if (opts.json) out(JSON.stringify(report, null, 2) + '\n');
      else {
        out(
          `Checked ${report.tasks} tasks and ${report.entries} chain entries (proof signed by key ${report.keyId}).\n`,
        );
        if (report.ok) out('OK: the export is exactly what the ledger recorded.\n');
        else {
          out(
            `BROKEN: ${report.problemCount} problem${report.problemCount === 1 ? '' : 's'}. First:\n  ${describeProblem(report.firstProblem!)}\n`,
          );
          for (const p of report.problems.slice(1, 10)) out(`  ${describeProblem(p)}\n`);
        }
      }
      if (!report.ok) process.exitCode = EXIT_BROKEN;
    });

  storageOptions(tasks.command('import'))
    .description(
      'read tasks written by `tasks export` into an organization (created if new); tasks it already has are skipped',
    )
    .argument('<file>', 'NDJSON file from `runtrail tasks export`')
    .option('--org <name>', ORG_HELP)
    .action(async (file: string, opts: StorageFlags & { org?: string }) => {
      await withCliStorage(opts, async ({ storage, media }) => {
        const org = await storage.accounts.ensureOrganization(opts.org ?? (await defaultOrganizationName(storage)));
        const stream = createReadStream(file);
        const progress = new ProgressBar('importing', statSync(file).size, 'bytes');
        stream.on('data', () => progress.update(stream.bytesRead));
        let imported = 0;
        let skipped = 0;
        let files = 0;
        let lineNo = 0;
        // Tasks go in batches, one transaction each (importTasks): one per task made a large
        // import wait for a commit per task. What the batch holds is not in the ledger yet, so a
        // task repeating a taskUUID or media UUID of the batch waits for the next one.
        let batch: TaskWithMedia[] = [];
        const inBatch = new Set<string>();
        const flush = async () => {
          if (batch.length === 0) return;
          const written = await storage.ledger.importTasks(batch);
          written.forEach((ok, i) => {
            if (ok) {
              imported++;
              files += batch[i]!.media.length;
            } else skipped++;
          });
          batch = [];
          inBatch.clear();
        };
        for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
          lineNo++;
          if (line.trim() === '') continue;
          let parsed: { task: StoredTask; media: { record: MediaRecord; data: Buffer | null }[] };
          try {
            parsed = importLine(JSON.parse(line) as unknown, org.id);
          } catch (err) {
            throw new UsageError(`${file}:${lineNo}: ${(err as Error).message}`);
          }
          const names = [parsed.task.taskUUID, ...parsed.media.map((m) => m.record.mediaUUID)].map((u) =>
            u.toLowerCase(),
          );
          if (names.some((n) => inBatch.has(n))) await flush();
          if (await storage.ledger.findTask(org.id, parsed.task.taskUUID)) {
            skipped++;
            continue;
          }
          const copies = await mediaCopies(parsed.media, org.id, storage, media);
          // Files first, then rows: a row never points at a file that is not there.
          for (const c of copies) await media.restore(c.record, c.data);
          batch.push({ task: parsed.task, media: copies.map((c) => c.record) });
          for (const n of names) inBatch.add(n);
          if (batch.length >= IMPORT_BATCH) await flush();
        }
        await flush();
        progress.done();
        out(
          `Imported ${imported} task${imported === 1 ? '' : 's'} into organization '${org.name}'${skipped ? `; skipped ${skipped} already there` : ''}.` +
            ` Restored ${files} media file${files === 1 ? '' : 's'}.\n`,
        );
      });
    });

  storageOptions(tasks.command('delete'))
    .description('delete one task, or every task created before a date, with their media files')
    .argument('[taskUUID]')
    .option('--org <name>', ORG_HELP)
    .option('--before <time>', 'delete every task created before this time (ISO date/time, ms, or 30d ago)')
    .option('--receipts <file>', 'write the signed deletion receipts there, one JSON per line (default: none)')
    .action(
      async (uuid: string | undefined, opts: StorageFlags & { org?: string; before?: string; receipts?: string }) => {
        if ((uuid === undefined) === (opts.before === undefined))
          throw new UsageError('Give either a taskUUID or --before <time>.');
        await withCliStorage(opts, async ({ storage, media, config }) => {
          const tombstones: Tombstone[] = [];
          const org = await organization(storage, opts.org);
          let tasksDeleted = 0;
          let files = 0;
          const removeFiles = async (records: MediaRecord[]) => {
            await Promise.all(records.map((m) => media.remove(m)));
            files += records.length;
          };
          if (uuid !== undefined) {
            const deleted = isCanonicalUuid(uuid)
              ? await storage.ledger.deleteTask(org.id, uuid, 'operator')
              : { tasks: 0, media: [], tombstones: [] };
            if (deleted.tasks === 0) throw new UsageError(`No task ${uuid} in organization '${org.name}'.`);
            tasksDeleted = deleted.tasks;
            tombstones.push(...deleted.tombstones);
            await removeFiles(deleted.media);
          } else {
            const before = parseTime(opts.before, 'before')!;
            for (;;) {
              const deleted = await storage.ledger.deleteTasksBefore(org.id, before, DELETE_BATCH, 'operator');
              tasksDeleted += deleted.tasks;
              tombstones.push(...deleted.tombstones);
              await removeFiles(deleted.media);
              if (deleted.tasks < DELETE_BATCH) break;
            }
          }
          out(
            `Deleted ${tasksDeleted} task${tasksDeleted === 1 ? '' : 's'} and ${files} media file${files === 1 ? '' : 's'}.\n`,
          );
          if (opts.receipts !== undefined) {
            const signer = loadSigner(config);
            writeFileSync(
              opts.receipts,
              tombstones.map((t) => JSON.stringify(deletionReceipt(t, signer)) + '\n').join(''),
            );
            out(
              `Wrote ${tombstones.length} signed deletion receipt${tombstones.length === 1 ? '' : 's'} to ${opts.receipts}.\n`,
            );
          }
        });
      },
    );
}
