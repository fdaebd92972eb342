// Versioned, additive schema migrations for the PostgreSQL backend, mirroring sqlite/migrations.ts
// version for version. Never edit an applied migration: append a new version.

export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations(id),
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        label TEXT,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
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
        cost DOUBLE PRECISION,
        error_code TEXT,
        engine TEXT,
        created_at BIGINT NOT NULL,
        completed_at BIGINT,
        PRIMARY KEY (org_id, task_uuid)
      );
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
        created_at BIGINT NOT NULL
      );
      CREATE INDEX media_by_task ON media (org_id, task_uuid);
    `,
  },
  {
    // Task history and retention (README, docs/protocol.md): per-organization retention in days (null: the
    // server default, forever unless RUNTRAIL_RETENTION_DAYS is set); listings filter by these.
    version: 2,
    sql: `
      ALTER TABLE organizations ADD COLUMN retention_days DOUBLE PRECISION;
      CREATE INDEX tasks_by_org_type_time ON tasks (org_id, task_type, created_at);
    `,
  },
  {
    // Async delivery (mirrors sqlite version 3): the job queue, results recorded as they
    // complete, outbound deliveries with every attempt, per-organization webhook secrets.
    version: 3,
    sql: `
      CREATE TABLE jobs (
        seq BIGSERIAL PRIMARY KEY,
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        state TEXT NOT NULL,
        owner TEXT,
        lease_until BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at BIGINT NOT NULL,
        UNIQUE (org_id, task_uuid)
      );
      CREATE INDEX jobs_by_state ON jobs (state, seq);
      CREATE TABLE task_items (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        item_index INTEGER NOT NULL,
        status TEXT NOT NULL,
        item_text TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (org_id, task_uuid, item_index)
      );
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
        next_attempt_at BIGINT,
        owner TEXT,
        created_at BIGINT NOT NULL,
        finished_at BIGINT
      );
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
      CREATE INDEX deliveries_by_task ON deliveries (task_uuid, org_id);
      CREATE TABLE delivery_attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries(id),
        attempt INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        status_code INTEGER,
        latency_ms INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (delivery_id, attempt)
      );
      CREATE TABLE webhook_secrets (
        org_id TEXT PRIMARY KEY REFERENCES organizations(id),
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL
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
        created_at BIGINT NOT NULL,
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
        expires_at BIGINT
      );
      CREATE TABLE ws_frames (
        seq BIGSERIAL PRIMARY KEY,
        session_uuid TEXT NOT NULL,
        frame TEXT NOT NULL,
        kept_at BIGINT NOT NULL
      );
      CREATE INDEX ws_frames_by_session ON ws_frames (session_uuid, seq);
    `,
  },
  {
    // Version 6 changed SQLite's task storage layout (rowid table, packed texts). PostgreSQL keeps
    // its layout: its heap tables append already, and TOAST compresses large texts. The version is
    // kept so that both backends number their migrations alike.
    version: 6,
    sql: `SELECT 1;`,
  },
  {
    // Sync tasks of a replica that died (docs/performance.md, R1): each task records the replica running it,
    // and each replica says it is alive in replicas until a time; the others end the tasks of a
    // replica past that time as taskInterrupted (docs/async.md).
    version: 7,
    sql: `
      ALTER TABLE tasks ADD COLUMN runner TEXT;
      CREATE TABLE replicas (
        replica_id TEXT PRIMARY KEY,
        alive_until BIGINT NOT NULL
      );
    `,
  },
  {
    // Version 8 fences job writes: every claim of a job takes the next claim token, and results
    // and completions are taken only under the job's latest claim, so a replica whose lease ran
    // out (paused, partitioned) cannot overwrite what the replica that took the job over recorded.
    version: 8,
    sql: `ALTER TABLE jobs ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0;`,
  },
  {
    // History text search (docs/explorer.md): a trigram index of request texts, which ILIKE
    // '%…%' searches use instead of reading every row. pg_trgm ships with PostgreSQL (contrib)
    // and is a trusted extension; where it cannot be created (no privilege, not installed) the
    // search still works, by a scan inside PostgreSQL. The index is built for the rows that exist.
    version: 9,
    sql: `
      DO $$
      DECLARE trgm_schema TEXT;
      BEGIN
        BEGIN
          CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR invalid_schema_name THEN
          RAISE NOTICE 'pg_trgm is not available: history text search reads every row';
        END;
        SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
        IF trgm_schema IS NOT NULL THEN
          EXECUTE format('CREATE INDEX tasks_request_trigrams ON tasks USING gin (request_text %I.gin_trgm_ops)', trgm_schema);
        END IF;
      END $$;
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
    version: 10,
    sql: `
      ALTER TABLE tasks ADD COLUMN api_key_id TEXT;
      CREATE INDEX tasks_stats ON tasks (org_id, created_at) INCLUDE (status, error_code, model, api_key_id, cost, completed_at, task_type);
      CREATE TABLE task_links (
        org_id TEXT NOT NULL,
        original_uuid TEXT NOT NULL,
        rerun_uuid TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (org_id, original_uuid, rerun_uuid)
      );
      CREATE INDEX task_links_by_rerun ON task_links (org_id, rerun_uuid);
    `,
  },
  {
    // The ledger's hash chain (docs/ledger-integrity.md): entries appended in the same transaction
    // as the task rows they describe. Each database connection appends to a lane of its own
    // (named after its backend process), so replicas and pooled connections never queue behind
    // one organization-wide head row; legal holds (task_uuid '' holds the whole organization);
    // the sha256 of each media file, computed as the store writes it.
    version: 11,
    sql: `
      CREATE TABLE chain_entries (
        org_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        seq BIGINT NOT NULL,
        task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        recorded_at BIGINT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org_id, lane, seq)
      );
      CREATE INDEX chain_entries_by_task ON chain_entries (org_id, task_uuid);
      CREATE TABLE legal_holds (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (org_id, task_uuid)
      );
      ALTER TABLE media ADD COLUMN sha256 TEXT;
    `,
  },
  {
    // Version 12: per-task retention and texts stored out of line (docs/performance.md, "Large bodies"),
    // the same columns and tables as SQLite's version 12. A blob is inserted or touched
    // (ON CONFLICT DO UPDATE) before its reference, and deletion locks the blobs it means to
    // remove before checking for references, so a replica recording a task that shares a blob
    // never loses it to another replica's deletion.
    version: 12,
    sql: `
      ALTER TABLE tasks ADD COLUMN expires_at BIGINT;
      ALTER TABLE tasks ADD COLUMN request_parts TEXT;
      ALTER TABLE tasks ADD COLUMN response_parts TEXT;
      CREATE INDEX tasks_by_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE text_blobs (
        hash TEXT PRIMARY KEY,
        encoding SMALLINT NOT NULL,
        bytes BYTEA NOT NULL
      );
      CREATE TABLE text_blob_refs (
        org_id TEXT NOT NULL,
        task_uuid TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org_id, task_uuid, hash)
      );
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
        max_bytes BIGINT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        owner TEXT,
        error TEXT,
        media_uuid TEXT,
        content_type TEXT,
        bytes BIGINT,
        sha256 TEXT,
        created_at BIGINT NOT NULL,
        finished_at BIGINT,
        UNIQUE (org_id, task_uuid, item_index, field)
      );
      CREATE INDEX output_archives_due ON output_archives (next_attempt_at) WHERE state = 'pending';
      CREATE TABLE archive_policies (
        org_id TEXT PRIMARY KEY,
        mode TEXT NOT NULL,
        max_bytes BIGINT
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
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (org_id, name)
      );
      CREATE TABLE usage_limits (
        scope TEXT NOT NULL,
        scope_id TEXT NOT NULL,
        per_second BIGINT,
        per_minute BIGINT,
        spend_per_day DOUBLE PRECISION,
        spend_per_month DOUBLE PRECISION,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (scope, scope_id)
      );
      CREATE TABLE usage_counters (
        counter TEXT NOT NULL,
        window_ms BIGINT NOT NULL,
        window_start BIGINT NOT NULL,
        tasks BIGINT NOT NULL,
        PRIMARY KEY (counter, window_ms, window_start)
      );
      CREATE INDEX usage_counters_by_start ON usage_counters (window_start);
    `,
  },
  {
    // Version 15: the chain's tombstone and media-deleted entries get an index of their own, so
    // verify's list of removed tasks and media reads those few entries instead of the
    // organization's whole chain. (SQLite's version 15 also rebuilds its chain table so a
    // commit's entries append at the ends of its indexes; a heap table here appends already.)
    version: 15,
    sql: `
      CREATE INDEX chain_entries_removals ON chain_entries (org_id, task_uuid) WHERE kind IN ('tombstone', 'media-deleted');
    `,
  },
  {
    // Version 16: nothing to change here. SQLite's version 16 moves its chain into one B-tree
    // keyed by organization and position; a heap table with its (org_id, lane, seq) key already
    // appends each connection's lane at the end. The version keeps both backends' numbers equal.
    version: 16,
    sql: `SELECT 1;`,
  },
];
