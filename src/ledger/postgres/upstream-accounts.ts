// Per-organization upstream accounts on PostgreSQL. The key arrives sealed and is stored sealed.

import type { UpstreamAccount, UpstreamAccountStore } from '../types.js';
import { upstreamAccountFromRow, type UpstreamAccountRow } from '../rows.js';
import type { PgPool } from './database.js';

export class PostgresUpstreamAccountStore implements UpstreamAccountStore {
  constructor(private readonly pool: PgPool) {}

  async setAccount(a: UpstreamAccount): Promise<void> {
    await this.pool.query(
      `INSERT INTO upstream_accounts (org_id, name, url, sealed_key, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (org_id, name) DO UPDATE SET url = excluded.url, sealed_key = excluded.sealed_key, updated_at = excluded.updated_at`,
      [a.orgId, a.name, a.url, a.sealedKey, a.updatedAt],
    );
  }

  async clearAccount(orgId: string, name: string): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM upstream_accounts WHERE org_id = $1 AND name = $2', [orgId, name]);
    return (res.rowCount ?? 0) > 0;
  }

  async findAccount(orgId: string, name: string): Promise<UpstreamAccount | undefined> {
    const { rows } = await this.pool.query<UpstreamAccountRow>(
      'SELECT * FROM upstream_accounts WHERE org_id = $1 AND name = $2',
      [orgId, name],
    );
    return rows[0] ? upstreamAccountFromRow(rows[0]) : undefined;
  }

  async listAccounts(orgId?: string): Promise<UpstreamAccount[]> {
    const { rows } = await this.pool.query<UpstreamAccountRow>(
      orgId === undefined
        ? 'SELECT * FROM upstream_accounts ORDER BY org_id, name'
        : 'SELECT * FROM upstream_accounts WHERE org_id = $1 ORDER BY name',
      orgId === undefined ? [] : [orgId],
    );
    return rows.map(upstreamAccountFromRow);
  }
}
