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
    // Task history and retention (issue 7): per-organization retention in days (null: the
    // server default, forever unless RUNTRAIL_RETENTION_DAYS is set); listings filter by these.
    version: 2,
    sql: `
      ALTER TABLE organizations ADD COLUMN retention_days DOUBLE PRECISION;
      CREATE INDEX tasks_by_org_type_time ON tasks (org_id, task_type, created_at);
    `,
  },
];
