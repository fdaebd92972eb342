// Organizations and API keys on PostgreSQL. Keys are stored only as SHA-256 hashes.

import { randomUUID } from 'node:crypto';
import type { AccountStore, ApiKeyInfo, Organization, OrganizationRetention } from '../types.js';
import {
  KEY_COLUMNS,
  keyFromRow,
  orgFromRow,
  orgRetentionFromRow,
  type KeyRow,
  type OrgRetentionRow,
  type OrgRow,
} from '../rows.js';
import type { PgPool } from './database.js';

export class PostgresAccountStore implements AccountStore {
  constructor(private readonly pool: PgPool) {}

  async ensureOrganization(name: string): Promise<Organization> {
    await this.pool.query(
      'INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [randomUUID(), name, Date.now()],
    );
    return (await this.findOrganizationByName(name))!;
  }

  async findOrganizationByName(name: string): Promise<Organization | undefined> {
    const { rows } = await this.pool.query<OrgRow>('SELECT * FROM organizations WHERE name = $1', [name]);
    return rows[0] ? orgFromRow(rows[0]) : undefined;
  }

  async addApiKey(orgId: string, keyHash: string, prefix: string, label: string | null): Promise<ApiKeyInfo> {
    const id = randomUUID();
    await this.pool.query(
      'INSERT INTO api_keys (id, org_id, key_hash, prefix, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [id, orgId, keyHash, prefix, label, Date.now()],
    );
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.id = $1`,
      [id],
    );
    return keyFromRow(rows[0]!);
  }

  async findOrganizationByKeyHash(keyHash: string): Promise<Organization | undefined> {
    const { rows } = await this.pool.query<OrgRow & { api_key_id: string }>(
      'SELECT o.*, k.id AS api_key_id FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL',
      [keyHash],
    );
    return rows[0] ? { ...orgFromRow(rows[0]), apiKeyId: rows[0].api_key_id } : undefined;
  }

  async listApiKeys(orgName?: string): Promise<ApiKeyInfo[]> {
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN organizations o ON o.id = k.org_id
       ${orgName === undefined ? '' : 'WHERE o.name = $1'} ORDER BY k.created_at, k.id`,
      orgName === undefined ? [] : [orgName],
    );
    return rows.map(keyFromRow);
  }

  async revokeApiKey(idOrPrefix: string): Promise<number> {
    const res = await this.pool.query(
      'UPDATE api_keys SET revoked_at = $1 WHERE revoked_at IS NULL AND (id = $2 OR prefix = $2)',
      [Date.now(), idOrPrefix],
    );
    return res.rowCount ?? 0;
  }

  async countApiKeys(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM api_keys');
    return Number(rows[0]!.n);
  }

  async listOrganizations(): Promise<OrganizationRetention[]> {
    const { rows } = await this.pool.query<OrgRetentionRow>(
      'SELECT id, name, created_at, retention_days FROM organizations ORDER BY name',
    );
    return rows.map(orgRetentionFromRow);
  }

  async setRetentionDays(orgId: string, days: number | null): Promise<void> {
    await this.pool.query('UPDATE organizations SET retention_days = $1 WHERE id = $2', [days, orgId]);
  }

  async findOrganizationById(id: string): Promise<Organization | undefined> {
    const { rows } = await this.pool.query<OrgRow>('SELECT * FROM organizations WHERE id = $1', [id]);
    return rows[0] ? orgFromRow(rows[0]) : undefined;
  }

  async webhookSecret(orgId: string, candidate: string): Promise<string> {
    const found = await this.pool.query<{ secret: string }>('SELECT secret FROM webhook_secrets WHERE org_id = $1', [
      orgId,
    ]);
    if (found.rows[0]) return found.rows[0].secret;
    await this.pool.query(
      'INSERT INTO webhook_secrets (org_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (org_id) DO NOTHING',
      [orgId, candidate, Date.now()],
    );
    const { rows } = await this.pool.query<{ secret: string }>('SELECT secret FROM webhook_secrets WHERE org_id = $1', [
      orgId,
    ]);
    return rows[0]!.secret;
  }

  async setWebhookSecret(orgId: string, secret: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO webhook_secrets (org_id, secret, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (org_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
      [orgId, secret, Date.now()],
    );
  }
}
