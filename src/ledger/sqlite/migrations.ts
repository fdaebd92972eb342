// Versioned, additive schema migrations for the SQLite backend. Never edit an applied
// migration: append a new version.

export interface Migration {
  version: number;
  sql: string;
}

/** Width of one task_rollups slot (migration 10): a quarter hour, a divisor of the dashboard's wider buckets. */
export const ROLLUP_SLOT_MS = 900_000;

/** The latency histogram bucket of a finished tasks row `r`; see LATENCY_BUCKETS_PER_DOUBLING. */
const latencyBucket = (r: string) =>
  `CAST(floor(4 * log2(max(${r}.completed_at - ${r}.created_at, 0) + 1)) AS INTEGER)`;
const slotOf = (r: string) => `(${r}.created_at / ${ROLLUP_SLOT_MS}) * ${ROLLUP_SLOT_MS}`;
/** The key columns of task_rollups for a tasks row `r`, in the order of its primary key. */
const countKey = (r: string) =>
  `${r}.org, ${slotOf(r)}, ${r}.task_type, ${r}.status, coalesce(${r}.error_code, ''), coalesce(${r}.model, ''), coalesce(${r}.api_key_id, '')`;
const COUNT_COLUMNS = 'org, slot, task_type, status, error_code, model, api_key_id';
const latencyKey = (r: string) => `${r}.org, ${slotOf(r)}, ${r}.task_type, ${latencyBucket(r)}`;
const LATENCY_COLUMNS = 'org, slot, task_type, latency_bucket';
const addRow = (r: string) => `
        INSERT INTO task_rollups (${COUNT_COLUMNS}, tasks, cost, costed)
        VALUES (${countKey(r)}, 1, coalesce(${r}.cost, 0), ${r}.cost IS NOT NULL)
        ON CONFLICT (${COUNT_COLUMNS}) DO UPDATE SET tasks = tasks + 1, cost = cost + excluded.cost, costed = costed + excluded.costed;
        INSERT INTO task_latency_rollups (${LATENCY_COLUMNS}, tasks, max_ms)
        SELECT ${latencyKey(r)}, 1, ${r}.completed_at - ${r}.created_at WHERE ${r}.completed_at IS NOT NULL
        ON CONFLICT (${LATENCY_COLUMNS}) DO UPDATE SET tasks = tasks + 1, max_ms = max(max_ms, excluded.max_ms);`;
const removeRow = (r: string) => `
        UPDATE task_rollups SET tasks = tasks - 1, cost = cost - coalesce(${r}.cost, 0), costed = costed - (${r}.cost IS NOT NULL)
        WHERE (${COUNT_COLUMNS}) = (${countKey(r)});
        UPDATE task_latency_rollups SET tasks = tasks - 1
        WHERE ${r}.completed_at IS NOT NULL AND (${LATENCY_COLUMNS}) = (${latencyKey(r)});`;
/** The columns whose change moves a task to other rollup rows. */
const ROLLED_COLUMNS = 'org, created_at, task_type, status, error_code, model, api_key_id, cost, completed_at';
const ROLLUP_SQL = `
      CREATE TABLE task_rollups (
        org INTEGER NOT NULL,
        slot INTEGER NOT NULL,
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        error_code TEXT NOT NULL,
        model TEXT NOT NULL,
        api_key_id TEXT NOT NULL,
        tasks INTEGER NOT NULL,
        cost REAL NOT NULL,
        costed INTEGER NOT NULL,
        PRIMARY KEY (${COUNT_COLUMNS})
      ) WITHOUT ROWID;
      CREATE TABLE task_latency_rollups (
        org INTEGER NOT NULL,
        slot INTEGER NOT NULL,
        task_type TEXT NOT NULL,
        latency_bucket INTEGER NOT NULL,
        tasks INTEGER NOT NULL,
        max_ms INTEGER NOT NULL,
        PRIMARY KEY (${LATENCY_COLUMNS})
      ) WITHOUT ROWID;
      INSERT INTO task_rollups (${COUNT_COLUMNS}, tasks, cost, costed)
        SELECT ${countKey('t')}, count(*), total(t.cost), count(t.cost) FROM tasks t GROUP BY 1, 2, 3, 4, 5, 6, 7;
      INSERT INTO task_latency_rollups (${LATENCY_COLUMNS}, tasks, max_ms)
        SELECT ${latencyKey('t')}, count(*), max(t.completed_at - t.created_at) FROM tasks t WHERE t.completed_at IS NOT NULL GROUP BY 1, 2, 3, 4;
      CREATE TRIGGER tasks_rollup_insert AFTER INSERT ON tasks BEGIN${addRow('NEW')}
      END;
      CREATE TRIGGER tasks_rollup_delete AFTER DELETE ON tasks BEGIN${removeRow('OLD')}
      END;
      CREATE TRIGGER tasks_rollup_update AFTER UPDATE OF ${ROLLED_COLUMNS} ON tasks BEGIN${removeRow('OLD')}${addRow('NEW')}
      END;`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations(id),
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        label TEXT,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE tasks (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        request_text TEXT NOT NULL,
        response_text TEXT,
        model TEXT,
        transport TEXT NOT NULL,
        cost REAL,
        error_code TEXT,
        engine TEXT,
        created_at INTEGER NOT NULL,
        completed_at INTEGER,
        PRIMARY KEY (org_id, task_uuid)
      ) WITHOUT ROWID;
      CREATE INDEX tasks_by_org_time ON tasks (org_id, created_at);
      CREATE TABLE media (
        media_uuid TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        task_uuid TEXT,
        access_token TEXT NOT NULL,
        format TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX media_by_task ON media (org_id, task_uuid);
    `,
  },
  {
    // Task history and retention (README, docs/protocol.md): per-organization retention in days (null: the
    // server default, forever unless RUNTRAIL_RETENTION_DAYS is set); listings filter by these.
    version: 2,
    sql: `
      ALTER TABLE organizations ADD COLUMN retention_days REAL;
      CREATE INDEX tasks_by_org_type_time ON tasks (org_id, task_type, created_at);
    `,
  },
  {
    // Async delivery: the job queue, results recorded as they complete, outbound deliveries
    // (webhooks, uploads) with every attempt, and per-organization webhook signing secrets.
    // (Numbered 3: version 2, retention, was committed first.)
    version: 3,
    sql: `
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        state TEXT NOT NULL,
        owner TEXT,
        lease_until INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at INTEGER NOT NULL,
        UNIQUE (org_id, task_uuid)
      );
      CREATE INDEX jobs_by_state ON jobs (state, seq);
      CREATE TABLE task_items (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        item_index INTEGER NOT NULL,
        status TEXT NOT NULL,
        item_text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (org_id, task_uuid, item_index)
      ) WITHOUT ROWID;
      CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        item_index INTEGER NOT NULL,
        body TEXT,
        media_uuid TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        owner TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
      CREATE INDEX deliveries_by_task ON deliveries (task_uuid, org_id);
      CREATE TABLE delivery_attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries(id),
        attempt INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        status_code INTEGER,
        latency_ms INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (delivery_id, attempt)
      ) WITHOUT ROWID;
      CREATE TABLE webhook_secrets (
        org_id TEXT PRIMARY KEY REFERENCES organizations(id),
        secret TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX tasks_processing ON tasks (created_at) WHERE status = 'processing';
    `,
  },
  {
    // Upstream engine (docs/engines.md): what a Runware-compatible upstream answered for a task, beside
    // the task (its own taskUUID, HTTP status, raw reply) for audit. The caller's view stays in
    // tasks.response_text; these rows never reach the caller through the protocol.
    version: 4,
    sql: `
      CREATE TABLE upstream_exchanges (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        upstream_url TEXT NOT NULL,
        upstream_task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        http_status INTEGER,
        reply_text TEXT,
        error TEXT,
        latency_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (org_id, task_uuid, seq)
      );
    `,
  },
  {
    // Scale-out (docs/scaling.md): WebSocket sessions and the frames their sockets could not take, in the
    // database rather than one process's memory, so a client resuming its connectionSessionUUID
    // on another replica still gets its undelivered results (docs/scaling.md). expires_at is null
    // while a socket is attached.
    version: 5,
    sql: `
      CREATE TABLE ws_sessions (
        session_uuid TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        expires_at INTEGER
      );
      CREATE TABLE ws_frames (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        session_uuid TEXT NOT NULL,
        frame TEXT NOT NULL,
        kept_at INTEGER NOT NULL
      );
      CREATE INDEX ws_frames_by_session ON ws_frames (session_uuid, seq);
    `,
  },
  {
    // Storage layout (docs/performance.md: P4 and the write path). Tasks move from a
    // table clustered on (org_id, task_uuid), where random UUIDs scattered every insert over the
    // whole B-tree and left pages half empty, to a rowid table that new tasks append to.
    // - Lookups by taskUUID go through uuid_key, a 52-bit integer from the UUID's leading hex
    //   digits (runtrail_uuid_key(), registered on every connection by openDatabase); the ledger
    //   compares org and task_uuid on the rows it finds and inserts only after looking, inside the
    //   committer's write transaction, so (organization, taskUUID) stays unique.
    // - The organization is a small integer (task_orgs.seq) instead of a 36-character id repeated
    //   in the row and in both listing indexes.
    // - Finished tasks may keep their request and response in packed_texts instead
    //   (src/ledger/packed-texts.ts); rows from before stay as they are.
    version: 6,
    sql: `
      CREATE TABLE task_orgs (
        seq INTEGER PRIMARY KEY,
        org_id TEXT NOT NULL UNIQUE
      );
      INSERT INTO task_orgs (org_id) SELECT DISTINCT org_id FROM tasks ORDER BY org_id;
      CREATE TABLE tasks_v6 (
        id INTEGER PRIMARY KEY,
        uuid_key INTEGER NOT NULL,
        org INTEGER NOT NULL REFERENCES task_orgs(seq),
        task_uuid TEXT NOT NULL,
        task_type TEXT NOT NULL,
        status TEXT NOT NULL,
        request_text TEXT,
        response_text TEXT,
        packed_texts BLOB,
        model TEXT,
        transport TEXT NOT NULL,
        cost REAL,
        error_code TEXT,
        engine TEXT,
        created_at INTEGER NOT NULL,
        completed_at INTEGER
      );
      INSERT INTO tasks_v6 (uuid_key, org, task_uuid, task_type, status, request_text, response_text, model, transport,
                            cost, error_code, engine, created_at, completed_at)
        SELECT runtrail_uuid_key(t.task_uuid), o.seq, t.task_uuid, t.task_type, t.status, t.request_text, t.response_text, t.model,
               t.transport, t.cost, t.error_code, t.engine, t.created_at, t.completed_at
        FROM tasks t JOIN task_orgs o ON o.org_id = t.org_id ORDER BY t.created_at, t.task_uuid;
      DROP TABLE tasks;
      ALTER TABLE tasks_v6 RENAME TO tasks;
      CREATE INDEX tasks_by_uuid ON tasks (uuid_key);
      CREATE INDEX tasks_by_org_time ON tasks (org, created_at);
      CREATE INDEX tasks_by_org_type_time ON tasks (org, task_type, created_at);
      CREATE INDEX tasks_processing ON tasks (created_at) WHERE status = 'processing';
    `,
  },
  {
    // Version 7 records which replica runs a task, for PostgreSQL's shared database. One process
    // owns a SQLite file and ends its own cut-off tasks at its next start; nothing changes here.
    version: 7,
    sql: `SELECT 1;`,
  },
  {
    // Version 8 fences job writes: every claim of a job takes the next claim token, and results
    // and completions are taken only under the job's latest claim, so a worker whose lease ran out
    // cannot overwrite what the worker that took the job over recorded (docs/async.md).
    version: 8,
    sql: `ALTER TABLE jobs ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    // History text search (docs/explorer.md): a word index of every task's request text, so a
    // search reads the index instead of unpacking every stored request. Contentless (the texts
    // are in tasks already), words only (detail=none: no positions), no per-row sizes: about 65
    // bytes a task. The ledger adds each task's plain request text as it records it; rows that
    // exist are indexed here.
    version: 9,
    sql: `
      CREATE VIRTUAL TABLE tasks_text USING fts5(
        request_text, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
      );
      INSERT INTO tasks_text (rowid, request_text) SELECT id, coalesce(request_text, runtrail_request_text(packed_texts)) FROM tasks;
    `,
  },
  {
    // The dashboard and "run again" (docs/explorer.md):
    // - api_key_id: the id (never the key) of the API key a task came in with, for cost by key
    //   and the key filter; tasks recorded before this version keep null ("unknown key").
    // - tasks_stats: one index that holds every column the dashboard's aggregates read, so they
    //   scan the organization's time range in the index without touching task rows (whose texts
    //   are large); it stays fast into millions of tasks (docs/performance.md).
    // - task_links: a task run again from another, both ways, beside the tasks rather than in
    //   their stored texts.
    // - task_rollups: the same counts summed per organization and quarter hour, kept by triggers
    //   on every insert, completion and delete of a task (existing tasks are summed once here),
    //   so a 30-day dashboard reads a few thousand rows however many tasks the range holds.
    //   SQLite has one writer at a time, so the triggers' upserts add no contention.
    version: 10,
    sql: `
      ALTER TABLE tasks ADD COLUMN api_key_id TEXT;
${ROLLUP_SQL}
      CREATE INDEX tasks_stats ON tasks (org, created_at, status, error_code, model, api_key_id, cost, completed_at, task_type);
      CREATE TABLE task_links (
        org_id TEXT NOT NULL,
        original_uuid TEXT NOT NULL,
        rerun_uuid TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (org_id, original_uuid, rerun_uuid)
      ) WITHOUT ROWID;
      CREATE INDEX task_links_by_rerun ON task_links (org_id, rerun_uuid);
    `,
  },
  {
    // The ledger's hash chain (docs/ledger-integrity.md): entries appended in the same write as
    // the task rows they describe, one lane per organization (one process writes a SQLite file);
    // entries of a task found through chain_entries_by_task (tombstones, verification); legal
    // holds (task_uuid '' holds the whole organization); the sha256 of each media file, computed
    // as the store writes it.
    version: 11,
    sql: `
      CREATE TABLE chain_entries (
        org_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        seq INTEGER NOT NULL,
        task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org_id, lane, seq)
      ) WITHOUT ROWID;
      CREATE INDEX chain_entries_by_task ON chain_entries (org_id, task_uuid);
      CREATE TABLE legal_holds (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (org_id, task_uuid)
      ) WITHOUT ROWID;
      ALTER TABLE media ADD COLUMN sha256 TEXT;
    `,
  },
  {
    // Version 12: per-task retention and texts stored out of line (docs/performance.md, "Large bodies").
    // - expires_at: when a task asked for a retention of its own (X-Runtrail-Retention, or the
    //   WebSocket authentication's runtrailRetention), the time it is due for deletion; null
    //   for every other task, which only the organization's retention removes.
    // - request_parts / response_parts: a text stored out of line, as the manifest of its
    //   segments (out-of-line.ts); the row's request_text / response_text then hold only its
    //   literal runs, for search. Null for texts kept whole in the row.
    // - text_blobs: the long pieces of those texts, content-addressed (SHA-256) so a piece many
    //   tasks share is kept once; a rowid table, as large values belong in one.
    // - text_blob_refs: which task holds which blob, so deleting a task removes the blobs no
    //   task holds any more.
    version: 12,
    sql: `
      ALTER TABLE tasks ADD COLUMN expires_at INTEGER;
      ALTER TABLE tasks ADD COLUMN request_parts TEXT;
      ALTER TABLE tasks ADD COLUMN response_parts TEXT;
      CREATE INDEX tasks_by_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE text_blobs (
        id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        encoding INTEGER NOT NULL,
        bytes BLOB NOT NULL
      );
      CREATE TABLE text_blob_refs (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org_id, task_uuid, hash)
      ) WITHOUT ROWID;
      CREATE INDEX text_blob_refs_by_hash ON text_blob_refs (hash);
    `,
  },
  {
    // Archived outputs (docs/engines.md): one row per output a forwarded task's upstream returned
    // (where it came from, and whether it was archived, failed or skipped, with the copy's content
    // type, size and sha256 and the media row holding it); pending rows are the archive work
    // queue, leased like deliveries. archive_policies holds an organization's own policy (all,
    // none, or outputs up to max_bytes each); without a row the server default applies.
    version: 13,
    sql: `
      CREATE TABLE output_archives (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        item_index INTEGER NOT NULL,
        field TEXT NOT NULL,
        form TEXT NOT NULL,
        source_url TEXT,
        inline_value TEXT,
        max_bytes INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        owner TEXT,
        error TEXT,
        media_uuid TEXT,
        content_type TEXT,
        bytes INTEGER,
        sha256 TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        UNIQUE (org_id, task_uuid, item_index, field)
      );
      CREATE INDEX output_archives_due ON output_archives (next_attempt_at) WHERE state = 'pending';
      CREATE TABLE archive_policies (
        org_id TEXT PRIMARY KEY,
        mode TEXT NOT NULL,
        max_bytes INTEGER
      );
    `,
  },
  {
    // Per-organization upstream accounts and budgets (docs/engines.md, "Accounts" and "Budgets"):
    // - upstream_accounts: an organization's own upstream URL and its key, sealed with the
    //   server's RUNTRAIL_ACCOUNTS_KEY (AES-256-GCM); the clear key is never stored.
    // - usage_limits: tasks per second and minute and spend per day and month, per organization
    //   or API key; a null column is no limit.
    // - usage_counters: tasks started per counter (`org:<id>`, `key:<id>`) and window, upserted
    //   by every replica, so a limit holds across all of them; old windows are pruned.
    version: 14,
    sql: `
      CREATE TABLE upstream_accounts (
        org_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sealed_key TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (org_id, name)
      ) WITHOUT ROWID;
      CREATE TABLE usage_limits (
        scope TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        per_second INTEGER,
        per_minute INTEGER,
        spend_per_day REAL,
        spend_per_month REAL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (scope, scope_id)
      ) WITHOUT ROWID;
      CREATE TABLE usage_counters (
        counter TEXT NOT NULL,
        window_ms INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        tasks INTEGER NOT NULL,
        PRIMARY KEY (counter, window_ms, window_start)
      ) WITHOUT ROWID;
      CREATE INDEX usage_counters_by_start ON usage_counters (window_start);
    `,
  },
  {
    // Version 15: the chain's table as a rowid table, its entries found by task row number
    // (docs/performance.md, "Hash chain"). Keyed by (org_id, lane, seq) without a rowid, and
    // indexed by random taskUUIDs, every commit rewrote a random index page per task and split
    // pages half-full: the chain tripled the bytes a commit wrote. Now an entry is appended at
    // the table's end, `chain_entries_by_task_row` grows at its end too (a task's row number
    // only grows), and the few tombstone and media-deleted entries have a small index of their
    // own. task_row is the tasks.id of the task when the entry was written; an entry of a task
    // deleted before this migration gets the negated first id of that task's entries, so its
    // entries still share one number. Queries by task_row also compare task_uuid: a row number
    // freed by a deletion may be given again.
    version: 15,
    sql: `
      CREATE TABLE chain_entries_v15 (
        id INTEGER PRIMARY KEY,
        org_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        seq INTEGER NOT NULL,
        task_uuid TEXT NOT NULL,
        task_row INTEGER,
        kind TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      INSERT INTO chain_entries_v15 (org_id, lane, seq, task_uuid, task_row, kind, recorded_at, payload, prev_hash, hash)
        SELECT c.org_id, c.lane, c.seq, c.task_uuid,
               (SELECT t.id FROM tasks t INDEXED BY tasks_by_uuid
                 WHERE t.uuid_key = runtrail_uuid_key(c.task_uuid) AND t.task_uuid = c.task_uuid
                   AND t.org = (SELECT o.seq FROM task_orgs o WHERE o.org_id = c.org_id)),
               c.kind, c.recorded_at, c.payload, c.prev_hash, c.hash
        FROM chain_entries c ORDER BY c.org_id, c.lane, c.seq;
      CREATE TEMP TABLE chain_v15_unrowed AS
        SELECT org_id, task_uuid, -min(id) AS task_row FROM chain_entries_v15
        WHERE task_row IS NULL AND task_uuid <> '' GROUP BY org_id, task_uuid;
      CREATE UNIQUE INDEX temp.chain_v15_unrowed_key ON chain_v15_unrowed (org_id, task_uuid);
      UPDATE chain_entries_v15 AS c SET task_row = (SELECT u.task_row FROM chain_v15_unrowed u
          WHERE u.org_id = c.org_id AND u.task_uuid = c.task_uuid)
        WHERE c.task_row IS NULL AND c.task_uuid <> '';
      DROP TABLE chain_v15_unrowed;
      DROP TABLE chain_entries;
      ALTER TABLE chain_entries_v15 RENAME TO chain_entries;
      CREATE UNIQUE INDEX chain_entries_by_seq ON chain_entries (org_id, lane, seq);
      CREATE INDEX chain_entries_by_task_row ON chain_entries (task_row) WHERE task_row IS NOT NULL;
      CREATE INDEX chain_entries_removals ON chain_entries (org_id, task_uuid) WHERE kind IN ('tombstone', 'media-deleted');
    `,
  },
  {
    // Version 16: one B-tree for the chain (docs/ledger-integrity.md, "How SQLite stores the
    // chain"). An entry's rowid is its organization's number (task_orgs.seq) shifted left 40
    // bits plus its position, so a lane's entries sit in order in the table itself and the
    // (org_id, lane, seq) index is gone; `seq` is read off the rowid. A task's entries are found
    // through its own row: `chain_seq` names its record or finished entry (written with the row,
    // on a page the commit writes anyway) and `chain_later` its later entries (completion,
    // result items, media deletions). A tombstone keeps the positions it covers in `covers`.
    // Each commit used to rewrite a leaf of the table and of two indexes; now one leaf.
    version: 16,
    sql: `
      ALTER TABLE tasks ADD COLUMN chain_seq INTEGER;
      ALTER TABLE tasks ADD COLUMN chain_later TEXT;
      UPDATE tasks SET
        chain_seq = (SELECT min(c.seq) FROM chain_entries c INDEXED BY chain_entries_by_task_row
          WHERE c.task_row = tasks.id AND c.task_uuid = tasks.task_uuid AND c.kind IN ('record', 'finished')
            AND c.org_id = (SELECT o.org_id FROM task_orgs o WHERE o.seq = tasks.org)),
        chain_later = (SELECT group_concat(c.seq, ',') FROM chain_entries c INDEXED BY chain_entries_by_task_row
          WHERE c.task_row = tasks.id AND c.task_uuid = tasks.task_uuid AND c.kind IN ('complete', 'item', 'media-deleted')
            AND c.org_id = (SELECT o.org_id FROM task_orgs o WHERE o.seq = tasks.org));
      INSERT INTO task_orgs (org_id) SELECT DISTINCT org_id FROM chain_entries WHERE true ON CONFLICT (org_id) DO NOTHING;
      CREATE TABLE chain_entries_v16 (
        id INTEGER PRIMARY KEY,
        org_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        seq INTEGER GENERATED ALWAYS AS (id & 1099511627775) VIRTUAL,
        task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        covers TEXT
      );
      INSERT INTO chain_entries_v16 (id, org_id, lane, task_uuid, kind, recorded_at, payload, prev_hash, hash, covers)
        SELECT ((SELECT o.seq FROM task_orgs o WHERE o.org_id = c.org_id) << 40) + c.seq,
               c.org_id, c.lane, c.task_uuid, c.kind, c.recorded_at, c.payload, c.prev_hash, c.hash,
               CASE WHEN c.kind = 'tombstone' THEN
                 (SELECT group_concat(x.seq, ',') FROM chain_entries x INDEXED BY chain_entries_by_task_row
                   WHERE x.task_row = c.task_row AND x.org_id = c.org_id AND x.task_uuid = c.task_uuid
                     AND x.lane = c.lane AND x.seq < c.seq)
               END
        FROM chain_entries c ORDER BY c.org_id, c.lane, c.seq;
      DROP TABLE chain_entries;
      ALTER TABLE chain_entries_v16 RENAME TO chain_entries;
      CREATE INDEX chain_entries_removals ON chain_entries (org_id, task_uuid) WHERE kind IN ('tombstone', 'media-deleted');
    `,
  },
];
