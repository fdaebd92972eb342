// Exports that prove themselves: beside `tasks export --ndjson FILE` go FILE.chain.ndjson (the
// organization's chain entries, every lane up to its head) and FILE.proof.json, a document
// signed with the ledger key naming the sizes and sha256 of both files, when the export began,
// and a signed checkpoint of the heads. `runtrail tasks verify-export FILE` checks all of it
// offline — no server, no database: the signatures, that neither file was cut short or edited,
// that the chain file's lanes hold and reach the signed heads, and that every exported task is
// exactly what the chain recorded (and, for a whole-organization export, that no task recorded
// before the export began is missing from it).

import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import type { ChainEntry, ChainStore } from '../ledger/chain-types.js';
import type { MediaRecord, StoredTask } from '../ledger/types.js';
import {
  completePayload,
  finishedPayload,
  recordPayload,
  sha256Hex,
  storedCompletion,
} from '../ledger/chain-payload.js';
import { CHECKPOINT_FORMAT, checkpointProblem, type Checkpoint } from './checkpoint.js';
import { signDocument, signatureProblem, type Signed } from './signed-document.js';
import type { LedgerSigner } from './signing-key.js';
import { walkLane, type ChainSource } from './chain-walk.js';
import { ProblemList, type Problem } from './problems.js';

export const PROOF_FORMAT = 'runtrail-export-proof/1';

interface FileFacts {
  file: string;
  bytes: number;
  sha256: string;
}

export type ExportProof = Signed<{
  format: string;
  orgId: string;
  /** When the export began listing tasks: every task the chain recorded before then is in a whole export. */
  startedAt: number;
  /** True when the export was narrowed by filters (then tasks may be missing on purpose). */
  filtered: boolean;
  tasks: number;
  ndjson: FileFacts;
  chain: FileFacts & { entries: number };
  checkpoint: Checkpoint;
}>;

export const chainFileOf = (ndjson: string) => `${ndjson}.chain.ndjson`;
export const proofFileOf = (ndjson: string) => `${ndjson}.proof.json`;

async function facts(path: string): Promise<FileFacts> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { file: basename(path), bytes: statSync(path).size, sha256: hash.digest('hex') };
}

/** Writes the chain file and the signed proof beside a finished NDJSON export. */
export async function writeExportProof(
  ndjson: string,
  chain: ChainStore,
  signer: LedgerSigner,
  about: { orgId: string; startedAt: number; filtered: boolean; tasks: number },
): Promise<ExportProof> {
  const heads = await chain.heads(about.orgId);
  const chainFile = chainFileOf(ndjson);
  const temp = `${chainFile}.partial`;
  const sink = createWriteStream(temp);
  let entries = 0;
  for (const head of heads) {
    let after = 0;
    while (after < head.seq) {
      const page = (await chain.entries(about.orgId, head.lane, after, 2000)).filter((e) => e.seq <= head.seq);
      if (page.length === 0) break;
      for (const e of page) {
        entries++;
        if (!sink.write(JSON.stringify(e) + '\n')) await once(sink, 'drain');
      }
      after = page[page.length - 1]!.seq;
    }
  }
  const closed = once(sink, 'close');
  sink.end();
  await closed;
  await rename(temp, chainFile);
  const checkpoint = signDocument({ format: CHECKPOINT_FORMAT, createdAt: new Date().toISOString(), heads }, signer);
  const proof = signDocument(
    {
      format: PROOF_FORMAT,
      orgId: about.orgId,
      startedAt: about.startedAt,
      filtered: about.filtered,
      tasks: about.tasks,
      ndjson: await facts(ndjson),
      chain: { ...(await facts(chainFile)), entries },
      checkpoint,
    },
    signer,
  );
  const { writeFile } = await import('node:fs/promises');
  await writeFile(proofFileOf(ndjson), JSON.stringify(proof, null, 2) + '\n');
  return proof;
}

export interface ExportReport {
  ok: boolean;
  orgId: string;
  tasks: number;
  entries: number;
  keyId: string;
  firstProblem: Problem | null;
  problemCount: number;
  problems: Problem[];
}

/** Reads what verification needs of an exported task line; throws on a line that is not one. */
function exportedTask(v: unknown, orgId: string): { task: StoredTask; media: (MediaRecord & { data?: string })[] } {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o['taskUUID'] !== 'string' || typeof o['requestText'] !== 'string')
    throw new Error('not an exported task');
  const media = Array.isArray(o['media']) ? (o['media'] as (MediaRecord & { data?: string })[]) : [];
  return { task: { ...(o as unknown as StoredTask), orgId }, media };
}

/** Checks an export offline. `trustedPublicKeyPem`: the key the auditor holds (default: the one the proof carries). */
export async function verifyExport(ndjson: string, trustedPublicKeyPem?: string): Promise<ExportReport> {
  const problems = new ProblemList(100);
  let proof: ExportProof;
  try {
    proof = JSON.parse(await readFile(proofFileOf(ndjson), 'utf8')) as ExportProof;
  } catch {
    throw new Error(`${proofFileOf(ndjson)} is missing or not JSON: the export has no proof to check`);
  }
  const orgId = proof.orgId;
  const whole = (kind: Problem['kind'], detail: string, extra: Partial<Problem> = {}) =>
    problems.add({ kind, orgId, taskUUID: null, detail, ...extra });
  const why = signatureProblem(proof as unknown as Record<string, unknown>, trustedPublicKeyPem);
  if (why) whole('export-edited', `the proof ${why}`);
  const cpWhy = checkpointProblem(proof.checkpoint, trustedPublicKeyPem);
  if (cpWhy) whole('checkpoint-mismatch', `the proof's checkpoint ${cpWhy}`);

  for (const [path, expected] of [
    [ndjson, proof.ndjson],
    [chainFileOf(ndjson), proof.chain],
  ] as const) {
    let found: FileFacts;
    try {
      found = await facts(path);
    } catch {
      whole('export-truncated', `${path} is missing`);
      continue;
    }
    if (found.bytes < expected.bytes)
      whole(
        'export-truncated',
        `${path} has ${found.bytes} bytes, the proof says ${expected.bytes}: it was cut short`,
        {
          expected: expected.bytes,
          found: found.bytes,
        },
      );
    else if (found.sha256 !== expected.sha256)
      whole('export-edited', `${path} differs from the file the proof signed (sha256)`, {
        expected: expected.sha256,
        found: found.sha256,
      });
  }

  // The chain file, by lane, walked up to the signed heads.
  const byLane = new Map<string, ChainEntry[]>();
  const byTask = new Map<string, ChainEntry[]>();
  try {
    for await (const line of createInterface({ input: createReadStream(chainFileOf(ndjson)), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      let e: ChainEntry;
      try {
        e = JSON.parse(line) as ChainEntry;
      } catch {
        whole('export-truncated', `${chainFileOf(ndjson)} ends in a line that is not whole`);
        continue;
      }
      const lane = byLane.get(e.lane) ?? [];
      lane.push(e);
      byLane.set(e.lane, lane);
    }
  } catch {
    /* reported above as missing */
  }
  const source: ChainSource = {
    heads: async () => proof.checkpoint.heads,
    entries: async (_org, lane, after, limit) =>
      (byLane.get(lane) ?? [])
        .filter((e) => e.seq > after)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit),
  };
  let entries = 0;
  for (const head of proof.checkpoint.heads) {
    entries += await walkLane(
      source,
      head,
      problems,
      (e) => {
        const list = byTask.get(e.taskUUID) ?? [];
        list.push(e);
        byTask.set(e.taskUUID, list);
      },
      head,
    );
  }

  // Every exported task against its entries.
  const exported = new Set<string>();
  let tasks = 0;
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input: createReadStream(ndjson), crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      let parsed: ReturnType<typeof exportedTask>;
      try {
        parsed = exportedTask(JSON.parse(line) as unknown, orgId);
      } catch {
        whole('export-truncated', `${ndjson}:${lineNo} is not a whole task line: the export was cut or edited`);
        continue;
      }
      tasks++;
      const uuid = parsed.task.taskUUID.toLowerCase();
      exported.add(uuid);
      checkExportedTask(parsed.task, parsed.media, byTask.get(uuid) ?? [], problems);
    }
  } catch {
    /* reported above as missing */
  }
  if (tasks !== proof.tasks)
    whole('export-truncated', `${ndjson} holds ${tasks} tasks, the proof says ${proof.tasks}`, {
      expected: proof.tasks,
      found: tasks,
    });
  if (!proof.filtered) {
    for (const [uuid, list] of byTask) {
      if (exported.has(uuid) || list.some((e) => e.kind === 'tombstone')) continue;
      const record = list.find(isRecording);
      if (record && record.recordedAt < proof.startedAt)
        problems.add({
          kind: 'export-truncated',
          orgId,
          taskUUID: uuid,
          lane: record.lane,
          seq: record.seq,
          detail: `task ${uuid} was recorded before the export began, but is not in it`,
        });
    }
  }
  return {
    ok: problems.total === 0,
    orgId,
    tasks,
    entries,
    keyId: proof.keyId,
    firstProblem: problems.list[0] ?? null,
    problemCount: problems.total,
    problems: problems.list,
  };
}

function checkExportedTask(
  task: StoredTask,
  media: readonly (MediaRecord & { data?: string })[],
  entries: readonly ChainEntry[],
  problems: ProblemList,
): void {
  // The task's latest life: entries after its last tombstone (a UUID is free again after a deletion).
  const lastTomb = entries.map((e) => e.kind).lastIndexOf('tombstone');
  const life = entries.slice(lastTomb + 1);
  const at = (e: ChainEntry) => ({ orgId: task.orgId, taskUUID: task.taskUUID, lane: e.lane, seq: e.seq });
  const record = life.find(isRecording);
  if (!record) {
    problems.add({
      kind: 'row-inserted',
      orgId: task.orgId,
      taskUUID: task.taskUUID,
      detail: `exported task ${task.taskUUID} is not recorded in the chain`,
    });
    return;
  }
  if (record.kind === 'record') differs(record, recordPayload(task), problems, at(record));
  if (task.status === 'processing') {
    if (record.kind === 'finished')
      problems.add({
        kind: 'row-edited',
        ...at(record),
        field: 'status',
        expected: (JSON.parse(record.payload) as { status: unknown }).status,
        found: task.status,
        detail: `exported task ${task.taskUUID} says processing, but the chain recorded it finished`,
      });
    return;
  }
  const complete = record.kind === 'finished' ? record : life.find((e) => e.kind === 'complete');
  if (!complete) {
    problems.add({
      kind: 'row-edited',
      ...at(record),
      field: 'status',
      expected: 'processing',
      found: task.status,
      detail: `exported task ${task.taskUUID} says ${task.status}, but the chain recorded no completion`,
    });
    return;
  }
  for (const m of media) {
    if (typeof m.data === 'string' && m.sha256 && sha256Hex(Buffer.from(m.data, 'base64')) !== m.sha256)
      problems.add({
        kind: 'media-changed',
        ...at(complete),
        field: 'media',
        expected: m.sha256,
        found: sha256Hex(Buffer.from(m.data, 'base64')),
        detail: `the exported file of media ${m.mediaUUID} does not hash to what the chain recorded`,
      });
  }
  const recordedMedia = (JSON.parse(complete.payload) as { media: { mediaUUID: string }[] }).media.map(
    (r) => r.mediaUUID,
  );
  const asRecorded = recordedMedia.flatMap((u) => media.filter((m) => m.mediaUUID.toLowerCase() === u));
  const done = storedCompletion(task, asRecorded)!;
  const rebuilt = complete.kind === 'finished' ? finishedPayload(task, done) : completePayload(task.taskUUID, done);
  differs(complete, rebuilt, problems, at(complete));
}

/** The entry that records a task: its `record`, or the `finished` entry of a task recorded finished in one write. */
function isRecording(e: ChainEntry): boolean {
  return e.kind === 'record' || e.kind === 'finished';
}

function differs(e: ChainEntry, rebuilt: string, problems: ProblemList, at: Omit<Problem, 'kind' | 'detail'>): void {
  if (rebuilt === e.payload) return;
  const was = JSON.parse(e.payload) as Record<string, unknown>;
  const now = JSON.parse(rebuilt) as Record<string, unknown>;
  const field = Object.keys(was).find((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k])) ?? 'payload';
  const name = field === 'request' ? 'requestText' : field === 'response' ? 'responseText' : field;
  problems.add({
    kind: 'row-edited',
    ...at,
    field: name,
    expected: was[field],
    found: now[field],
    detail: `exported task ${String(at.taskUUID)}: its ${name} differs from what the chain recorded at ${e.lane}#${e.seq}`,
  });
}
