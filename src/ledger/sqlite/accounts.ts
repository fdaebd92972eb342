// Organizations and API keys on SQLite. Keys are stored only as SHA-256 hashes.

import { randomUUID } from 'node:crypto';
import type { AccountStore, ApiKeyInfo, Organization, OrganizationRetention } from '../types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import {
  KEY_COLUMNS,
  keyFromRow,
  orgFromRow,
  orgRetentionFromRow,
  type KeyRow,
  type OrgRetentionRow,
  type OrgRow,
} from '../rows.js';

export class SqliteAccountStore implements AccountStore {
  private readonly byHash;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    this.byHash = db.prepare<[string], OrgRow & { api_key_id: string }>(
      `SELECT o.*, k.id AS api_key_id FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    );
  }

  ensureOrganization(name: string): Promise<Organization> {
    return this.committer.write(() => {
      this.db
        .prepare('INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
        .run(randomUUID(), name, Date.now());
      return orgFromRow(this.db.prepare<[string], OrgRow>('SELECT * FROM organizations WHERE name = ?').get(name)!);
    });
  }

  async findOrganizationByName(name: string): Promise<Organization | undefined> {
    const row = this.db.prepare<[string], OrgRow>('SELECT * FROM organizations WHERE name = ?').get(name);
    return row ? orgFromRow(row) : undefined;
  }

  addApiKey(orgId: string, keyHash: string, prefix: string, label: string | null): Promise<ApiKeyInfo> {
    return this.committer.write(() => {
      const id = randomUUID();
      this.db
        .prepare('INSERT INTO api_keys (id, org_id, key_hash, prefix, label, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, orgId, keyHash, prefix, label, Date.now());
      return keyFromRow(
        this.db
          .prepare<[string], KeyRow>(
            `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.id = ?`,
          )
          .get(id)!,
      );
    });
  }

  async findOrganizationByKeyHash(keyHash: string): Promise<Organization | undefined> {
    const row = this.byHash.get(keyHash);
    return row ? { ...orgFromRow(row), apiKeyId: row.api_key_id } : undefined;
  }

  async listApiKeys(orgName?: string): Promise<ApiKeyInfo[]> {
    const sql = `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 ${orgName === undefined ? '' : 'WHERE o.name = ?'} ORDER BY k.created_at, k.id`;
    const rows =
      orgName === undefined
        ? this.db.prepare<[], KeyRow>(sql).all()
        : this.db.prepare<[string], KeyRow>(sql).all(orgName);
    return rows.map(keyFromRow);
  }

  revokeApiKey(idOrPrefix: string): Promise<number> {
    return this.committer.write(
      () =>
        this.db
          .prepare('UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ? OR prefix = ?)')
          .run(Date.now(), idOrPrefix, idOrPrefix).changes,
    );
  }

  async countApiKeys(): Promise<number> {
    return this.db.prepare('SELECT count(*) FROM api_keys').pluck().get() as number;
  }

  async listOrganizations(): Promise<OrganizationRetention[]> {
    return this.db
      .prepare<[], OrgRetentionRow>('SELECT id, name, created_at, retention_days FROM organizations ORDER BY name')
      .all()
      .map(orgRetentionFromRow);
  }

  setRetentionDays(orgId: string, days: number | null): Promise<void> {
    return this.committer.write(() => {
      this.db.prepare('UPDATE organizations SET retention_days = ? WHERE id = ?').run(days, orgId);
    });
  }

  async findOrganizationById(id: string): Promise<Organization | undefined> {
    const row = this.db.prepare<[string], OrgRow>('SELECT * FROM organizations WHERE id = ?').get(id);
    return row ? orgFromRow(row) : undefined;
  }

  async webhookSecret(orgId: string, candidate: string): Promise<string> {
    const existing = this.db.prepare('SELECT secret FROM webhook_secrets WHERE org_id = ?').pluck().get(orgId) as
      string | undefined;
    if (existing !== undefined) return existing;
    return this.committer.write(() => {
      this.db
        .prepare(
          'INSERT INTO webhook_secrets (org_id, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (org_id) DO NOTHING',
        )
        .run(orgId, candidate, Date.now());
      return this.db.prepare('SELECT secret FROM webhook_secrets WHERE org_id = ?').pluck().get(orgId) as string;
    });
  }

  async setWebhookSecret(orgId: string, secret: string): Promise<void> {
    await this.committer.write(() =>
      this.db
        .prepare(
          'INSERT INTO webhook_secrets (org_id, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at',
        )
        .run(orgId, secret, Date.now()),
    );
  }
}
