// `runtrail tasks list | show | export | import | delete`: the task history from the command
// line. The commands open the data folder (or DATABASE_URL) directly, so they work while the
// server runs and without an API key; `--org` names the organization they act for.

import { Command, Option } from 'commander';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config.js';
import { openStorage } from '../ledger/open-storage.js';
import { decodeCursor, encodeCursor, parseLimit, parseTaskFilter, parseTime, type FilterInput } from '../ledger/task-filter.js';
import { taskSummary } from '../ledger/task-summary.js';
import type { MediaRecord, Organization, Storage, StoredTask, TaskFilter } from '../ledger/types.js';
import { MediaStore, isMediaFormat } from '../media/media-store.js';
import { ProtocolError } from '../protocol/errors.js';
import { isCanonicalUuid } from '../protocol/uuid.js';
import { currentResponseText } from '../tasks/get-task-details.js';
import { indentJson } from './json-indent.js';

/** Raised for mistakes in what the user asked; printed without a stack, exit code 1. */
export class UsageError extends Error {}

interface StorageFlags {
  dataDir?: string;
  mediaDir?: string;
  databaseUrl?: string;
}

interface Opened {
  storage: Storage;
  media: MediaStore;
}

const EXPORT_PAGE = 200;
const DELETE_BATCH = 500;

export function storageOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--data-dir <dir>', 'the data folder (RUNTRAIL_DATA_DIR, default ./data)'))
    .addOption(new Option('--media-dir <dir>', 'the media folder (RUNTRAIL_MEDIA_DIR, default <data dir>/media)'))
    .addOption(new Option('--database-url <url>', 'postgres:// URL (DATABASE_URL)'));
}

export async function withCliStorage(flags: StorageFlags, run: (opened: Opened) => Promise<void>): Promise<void> {
  const config = loadConfig(process.env, { dataDir: flags.dataDir, mediaDir: flags.mediaDir, databaseUrl: flags.databaseUrl });
  const storage = await openStorage(config);
  try {
    await run({ storage, media: new MediaStore(config.mediaDir) });
  } catch (err) {
    if (err instanceof ProtocolError) throw new UsageError(err.message);
    throw err;
  } finally {
    await storage.close();
  }
}

export const ORG_HELP = "organization (default: the only one there is, else 'default')";

/**
 * The organization a command acts for: the one named by --org; without it, the only
 * organization when there is exactly one, else `default`.
 */
export async function organization(storage: Storage, name: string | undefined): Promise<Organization> {
  const wanted = name ?? (await defaultOrganizationName(storage));
  const org = await storage.accounts.findOrganizationByName(wanted);
  if (!org) throw new UsageError(`No organization named '${wanted}'.`);
  return org;
}

export async function defaultOrganizationName(storage: Storage): Promise<string> {
  const all = await storage.accounts.listOrganizations();
  if (all.length === 1) return all[0]!.name;
  if (all.length === 0 || all.some((o) => o.name === 'default')) return 'default';
  throw new UsageError(`There are ${all.length} organizations and none is named 'default': name one with --org (${all.map((o) => o.name).join(', ')}).`);
}

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
  const input: FilterInput = { taskType: flags.type, status: flags.status, model: flags.model, since: flags.since, until: flags.until, text: flags.text };
  return parseTaskFilter(input);
}

const out = (text: string) => process.stdout.write(text);

export function registerTasksCommands(program: Command): void {
  const tasks = program.command('tasks').description('see, search, export, import and delete recorded tasks');

  storageOptions(filterOptions(tasks.command('list')))
    .description('list tasks, newest first')
    .option('--org <name>', ORG_HELP)
    .option('--limit <n>', 'tasks per page (default 50, at most 10000)')
    .option('--cursor <cursor>', 'continue after a previous page (printed at its end)')
    .option('--json', 'print JSON: {data, counts, nextCursor}, as GET /api/tasks does')
    .action(async (opts: FilterFlags & StorageFlags & { org?: string; limit?: string; cursor?: string; json?: boolean }) => {
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
        const rows = page.tasks.map(taskSummary).map((t) => [
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
        out(`${page.tasks.length} shown of ${counts.total} (${counts.success} success, ${counts.error} error, ${counts.processing} processing)\n`);
        if (nextCursor) out(`more: --cursor ${nextCursor}\n`);
      });
    });

  storageOptions(tasks.command('show'))
    .description('show one task: its details, request and response (indented), or --raw for the exact stored bytes')
    .argument('<taskUUID>')
    .option('--org <name>', ORG_HELP)
    .addOption(new Option('--raw [part]', 'print the stored text exactly: request, response, or both (one per line)').choices(['request', 'response', 'both']))
    .action(async (uuid: string, opts: StorageFlags & { org?: string; raw?: true | 'request' | 'response' | 'both' }) => {
      await withCliStorage(opts, async ({ storage, media }) => {
        const org = await organization(storage, opts.org);
        const task = isCanonicalUuid(uuid) ? await storage.ledger.findTask(org.id, uuid) : undefined;
        if (!task) throw new UsageError(`No task ${uuid} in organization '${org.name}'.`);
        if (opts.raw !== undefined) {
          const part = opts.raw === true ? 'both' : opts.raw;
          const response = task.responseText ?? (await currentResponseText(task, storage));
          out(part === 'request' ? task.requestText : part === 'response' ? response : `${task.requestText}\n${response}\n`);
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
        for (const m of files) out(`${'media'.padEnd(10)} ${m.mediaUUID}.${m.format} ${m.width}x${m.height} ${m.bytes} bytes  ${media.pathOf(m.mediaUUID, m.format)}\n`);
        // A running task shows what it has so far: the results recorded, processing for the rest.
        const response = task.responseText ?? (await currentResponseText(task, storage));
        out(`\nrequest:\n${indentJson(task.requestText)}\n\nresponse:\n${indentJson(response)}\n`);
      });
    });

  storageOptions(filterOptions(tasks.command('export')))
    .description('write tasks (exact request and response texts) as NDJSON, one task per line, oldest last')
    .option('--org <name>', ORG_HELP)
    .requiredOption('--ndjson <file>', 'where to write ("-" for stdout)')
    .option('--with-media', 'embed the media files (base64) so import can restore them')
    .action(async (opts: FilterFlags & StorageFlags & { org?: string; ndjson: string; withMedia?: boolean }) => {
      await withCliStorage(opts, async ({ storage, media }) => {
        const org = await organization(storage, opts.org);
        const filter = filterFrom(opts);
        const { total } = await storage.ledger.countTasks(org.id, filter);
        const toStdout = opts.ndjson === '-';
        const temp = `${opts.ndjson}.partial`;
        const sink = toStdout ? process.stdout : createWriteStream(temp);
        const progress = new ProgressBar('exporting', total, 'tasks');
        let written = 0;
        let cursor = null;
        do {
          const page = await storage.ledger.listTasks(org.id, filter, cursor, EXPORT_PAGE);
          for (const task of page.tasks) {
            const files = await storage.ledger.listTaskMedia(org.id, task.taskUUID);
            const line = JSON.stringify(await exportLine(task, files, opts.withMedia ? media : undefined)) + '\n';
            if (!sink.write(line)) await once(sink, 'drain');
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
        process.stderr.write(`Exported ${written} task${written === 1 ? '' : 's'} of organization '${org.name}'${toStdout ? '' : ` to ${opts.ndjson}`}.\n`);
      });
    });

  storageOptions(tasks.command('import'))
    .description('read tasks written by `tasks export` into an organization (created if new); tasks it already has are skipped')
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
        for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
          lineNo++;
          if (line.trim() === '') continue;
          let parsed: { task: StoredTask; media: { record: MediaRecord; data: Buffer | null }[] };
          try {
            parsed = importLine(JSON.parse(line) as unknown, org.id);
          } catch (err) {
            throw new UsageError(`${file}:${lineNo}: ${(err as Error).message}`);
          }
          if (await storage.ledger.findTask(org.id, parsed.task.taskUUID)) {
            skipped++;
            continue;
          }
          const copies = await mediaCopies(parsed.media, org.id, storage, media);
          // Files first, then rows: a row never points at a file that is not there.
          for (const c of copies) await media.restore(c.record, c.data);
          if (await storage.ledger.importTask(parsed.task, copies.map((c) => c.record))) {
            imported++;
            files += copies.length;
          } else skipped++;
        }
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
    .action(async (uuid: string | undefined, opts: StorageFlags & { org?: string; before?: string }) => {
      if ((uuid === undefined) === (opts.before === undefined)) throw new UsageError('Give either a taskUUID or --before <time>.');
      await withCliStorage(opts, async ({ storage, media }) => {
        const org = await organization(storage, opts.org);
        let tasksDeleted = 0;
        let files = 0;
        const removeFiles = async (records: MediaRecord[]) => {
          await Promise.all(records.map((m) => media.remove(m)));
          files += records.length;
        };
        if (uuid !== undefined) {
          const deleted = isCanonicalUuid(uuid) ? await storage.ledger.deleteTask(org.id, uuid) : { tasks: 0, media: [] };
          if (deleted.tasks === 0) throw new UsageError(`No task ${uuid} in organization '${org.name}'.`);
          tasksDeleted = deleted.tasks;
          await removeFiles(deleted.media);
        } else {
          const before = parseTime(opts.before, 'before')!;
          for (;;) {
            const deleted = await storage.ledger.deleteTasksBefore(org.id, before, DELETE_BATCH);
            tasksDeleted += deleted.tasks;
            await removeFiles(deleted.media);
            if (deleted.tasks < DELETE_BATCH) break;
          }
        }
        out(`Deleted ${tasksDeleted} task${tasksDeleted === 1 ? '' : 's'} and ${files} media file${files === 1 ? '' : 's'}.\n`);
      });
    });
}

// ---------------------------------------------------------------------------------------------
// The NDJSON line: every stored field, the texts as JSON strings (which round-trip exactly).

interface ExportedMedia {
  mediaUUID: string;
  accessToken: string;
  format: MediaRecord['format'];
  width: number;
  height: number;
  bytes: number;
  createdAt: number;
  /** The file, base64, with --with-media. */
  data?: string;
}

async function exportLine(task: StoredTask, files: MediaRecord[], media: MediaStore | undefined) {
  const exported: ExportedMedia[] = [];
  for (const m of files) {
    const entry: ExportedMedia = { mediaUUID: m.mediaUUID, accessToken: m.accessToken, format: m.format, width: m.width, height: m.height, bytes: m.bytes, createdAt: m.createdAt };
    if (media) {
      try {
        entry.data = (await media.read(m)).toString('base64');
      } catch {
        /* a file already gone is exported without data */
      }
    }
    exported.push(entry);
  }
  return {
    taskUUID: task.taskUUID,
    taskType: task.taskType,
    status: task.status,
    model: task.model,
    transport: task.transport,
    engine: task.engine,
    cost: task.cost,
    errorCode: task.errorCode,
    createdAt: task.createdAt,
    completedAt: task.completedAt,
    requestText: task.requestText,
    responseText: task.responseText,
    // The id of the key the task came in with, on the exporting server (not a secret).
    apiKeyId: task.apiKeyId ?? null,
    media: exported,
  };
}

function importLine(v: unknown, orgId: string): { task: StoredTask; media: { record: MediaRecord; data: Buffer | null }[] } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a task object');
  const o = v as Record<string, unknown>;
  const str = (k: string) => {
    if (typeof o[k] !== 'string') throw new Error(`'${k}' must be a string`);
    return o[k] as string;
  };
  const strOrNull = (k: string) => (o[k] === null || o[k] === undefined ? null : str(k));
  const num = (rec: Record<string, unknown>, k: string) => {
    if (typeof rec[k] !== 'number' || !Number.isFinite(rec[k])) throw new Error(`'${k}' must be a number`);
    return rec[k] as number;
  };
  const taskUUID = str('taskUUID');
  if (!isCanonicalUuid(taskUUID)) throw new Error(`'taskUUID' is not a UUID`);
  const status = str('status');
  if (status !== 'processing' && status !== 'success' && status !== 'error') throw new Error(`'status' must be processing, success or error`);
  const transport = str('transport');
  if (transport !== 'rest' && transport !== 'websocket') throw new Error(`'transport' must be rest or websocket`);
  const task: StoredTask = {
    orgId,
    taskUUID,
    taskType: str('taskType'),
    status,
    requestText: str('requestText'),
    responseText: strOrNull('responseText'),
    model: strOrNull('model'),
    transport,
    cost: o['cost'] === null || o['cost'] === undefined ? null : num(o, 'cost'),
    errorCode: strOrNull('errorCode'),
    engine: strOrNull('engine'),
    createdAt: num(o, 'createdAt'),
    completedAt: o['completedAt'] === null || o['completedAt'] === undefined ? null : num(o, 'completedAt'),
    apiKeyId: strOrNull('apiKeyId'),
  };
  const list = o['media'] ?? [];
  if (!Array.isArray(list)) throw new Error(`'media' must be an array`);
  const media = list.map((entry: unknown) => {
    const m = entry as Record<string, unknown>;
    if (typeof m !== 'object' || m === null) throw new Error('a media entry is not an object');
    const mediaUUID = m['mediaUUID'];
    const format = m['format'];
    if (typeof mediaUUID !== 'string' || !isCanonicalUuid(mediaUUID)) throw new Error(`a media entry has no valid 'mediaUUID'`);
    if (!isMediaFormat(format)) throw new Error(`a media entry has no valid 'format'`);
    if (typeof m['accessToken'] !== 'string' || !/^[A-Za-z0-9_-]+$/.test(m['accessToken'])) throw new Error(`a media entry has no valid 'accessToken'`);
    const record: MediaRecord = {
      mediaUUID,
      orgId,
      taskUUID,
      accessToken: m['accessToken'],
      format,
      width: num(m, 'width'),
      height: num(m, 'height'),
      bytes: num(m, 'bytes'),
      createdAt: num(m, 'createdAt'),
    };
    return { record, data: typeof m['data'] === 'string' ? Buffer.from(m['data'], 'base64') : null };
  });
  return { task, media };
}

/**
 * The media rows and files an imported task gets. An image UUID names one image of one
 * organization on a server, so where the export's UUID is already taken here (the same task
 * imported into another organization of the same server) the file is copied under a new UUID
 * and access token: the target organization owns its copy, which outlives the original. The
 * stored response keeps naming the original URL, byte for byte. Files come from the export
 * (--with-media) or, failing that, from this server's own copy of the original.
 */
async function mediaCopies(
  exported: readonly { record: MediaRecord; data: Buffer | null }[],
  orgId: string,
  storage: Storage,
  media: MediaStore,
): Promise<{ record: MediaRecord; data: Buffer }[]> {
  const copies: { record: MediaRecord; data: Buffer }[] = [];
  for (const m of exported) {
    const existing = await storage.ledger.findMediaForServing(m.record.mediaUUID);
    let data = m.data;
    if (data === null && existing) data = await media.read(existing).catch(() => null);
    if (data === null) continue;
    if (existing && existing.orgId === orgId) continue;
    const record = existing ? { ...m.record, mediaUUID: randomUUID(), accessToken: randomBytes(16).toString('base64url') } : m.record;
    copies.push({ record, data });
  }
  return copies;
}

// ---------------------------------------------------------------------------------------------
// Output helpers

function clip(s: string, n: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n';
  return line(head) + rows.map(line).join('');
}

/** A progress bar on stderr (redrawn in place on a terminal, a line per tenth otherwise). */
class ProgressBar {
  private lastDraw = 0;
  private lastTenth = -1;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
  ) {}

  update(n: number): void {
    const now = Date.now();
    const tenth = this.total === 0 ? 10 : Math.floor((n / this.total) * 10);
    if (this.tty ? now - this.lastDraw < 100 : tenth === this.lastTenth) return;
    this.lastDraw = now;
    this.lastTenth = tenth;
    this.draw(n, this.tty ? '\r' : '', this.tty ? '' : '\n');
  }

  done(): void {
    this.draw(this.total, this.tty ? '\r' : '', '\n');
  }

  private draw(n: number, start: string, end: string): void {
    const ratio = this.total === 0 ? 1 : Math.min(1, n / this.total);
    const width = 30;
    const full = Math.round(ratio * width);
    const bar = '#'.repeat(full) + '-'.repeat(width - full);
    process.stderr.write(`${start}${this.label} [${bar}] ${String(Math.round(ratio * 100)).padStart(3)}% ${n}/${this.total} ${this.unit}${end}`);
  }
}
