// Per-organization upstream accounts on SQLite. The key arrives sealed and is stored sealed.

import type { UpstreamAccount, UpstreamAccountStore } from '../types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { upstreamAccountFromRow, type UpstreamAccountRow } from '../rows.js';

export class SqliteUpstreamAccountStore implements UpstreamAccountStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {}

  async setAccount(a: UpstreamAccount): Promise<void> {
    await this.committer.write(() =>
      this.db
        .prepare(
          `INSERT INTO upstream_accounts (org_id, name, url, sealed_key, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (org_id, name) DO UPDATE SET url = excluded.url, sealed_key = excluded.sealed_key, updated_at = excluded.updated_at`,
        )
        .run(a.orgId, a.name, a.url, a.sealedKey, a.updatedAt),
    );
  }

  clearAccount(orgId: string, name: string): Promise<boolean> {
    return this.committer.write(
      () => this.db.prepare('DELETE FROM upstream_accounts WHERE org_id = ? AND name = ?').run(orgId, name).changes > 0,
    );
  }

  async findAccount(orgId: string, name: string): Promise<UpstreamAccount | undefined> {
    const row = this.db
      .prepare<[string, string], UpstreamAccountRow>('SELECT * FROM upstream_accounts WHERE org_id = ? AND name = ?')
      .get(orgId, name);
    return row ? upstreamAccountFromRow(row) : undefined;
  }

  async listAccounts(orgId?: string): Promise<UpstreamAccount[]> {
    const rows =
      orgId === undefined
        ? this.db.prepare<[], UpstreamAccountRow>('SELECT * FROM upstream_accounts ORDER BY org_id, name').all()
        : this.db
            .prepare<[string], UpstreamAccountRow>('SELECT * FROM upstream_accounts WHERE org_id = ? ORDER BY name')
            .all(orgId);
    return rows.map(upstreamAccountFromRow);
  }
}
