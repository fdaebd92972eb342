// The baseline of the chain's overhead row (bench/chain.ts): this working tree (the files git
// does not ignore) with the SQLite ledger's chain work on the write path taken out (the appends
// of a new task's and a completion's entries, the payloads built for them, and the position
// written with a task's row) and nothing else changed, built into a folder of its own. There is
// no switch that turns the chain off in the server itself, and a build from before the chain
// differs in more than the chain. `--baseline-dist build` makes one in a temporary folder and
// removes it after the row; `--baseline-dist DIR` takes a built folder made another way.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './bench-server.js';
import { log } from './common.js';

/** Each piece of src/ledger/sqlite/ledger.ts the baseline replaces; each must occur exactly once. */
const CHAIN_APPENDS: readonly [string, string][] = [
  ['this.chain.appendLinked(entry ?? draftForNewTask(task, finishedFields(done)));', 'void entry;'],
  ['this.chain.appendLinked(entry ?? completionDraft(c));', 'void entry;'],
  ['    const entry = laterDraftForNewTask(task);\n', '    const entry = undefined;\n'],
  ['    const entry = laterDraftForNewTask(task, finishedFields(completion));\n', '    const entry = undefined;\n'],
  ['    const entry = laterCompletionDraft(c);\n', '    const entry = undefined;\n'],
  // The positions written with the task's row and with its completion belong to the chain too.
  ['      chainLater: this.chain.nextSeq(c.orgId),\n', '      chainLater: null,\n'],
  [
    '      chainSeq: this.chain.nextSeq(task.orgId),\n    });\n    this.blobs.hold(task.orgId, uuid, blobs);\n    // The index holds',
    '      chainSeq: null,\n    });\n    this.blobs.hold(task.orgId, uuid, blobs);\n    // The index holds',
  ],
];

/** Builds the baseline and returns its folder (bin/, dist/, node_modules linked to this checkout's). */
export function buildNoChainBaseline(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-no-chain-'));
  log(`chain: building the baseline without the chain's appends in ${dir}`);
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '');
  for (const f of files) {
    try {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      copyFileSync(join(REPO_ROOT, f), join(dir, f));
    } catch (err) {
      // A tracked file deleted in the working tree is not part of this build.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const ledger = join(dir, 'src/ledger/sqlite/ledger.ts');
  let text = readFileSync(ledger, 'utf8');
  for (const [from, to] of CHAIN_APPENDS) {
    const count = text.split(from).length - 1;
    if (count !== 1)
      throw new Error(
        `bench/no-chain-build.ts: expected one "${from.split('\n')[0]}" in src/ledger/sqlite/ledger.ts, found ${count}; update CHAIN_APPENDS`,
      );
    text = text.replace(from, to);
  }
  writeFileSync(ledger, text);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  return dir;
}
