import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { AclEntry } from './acl-rules';

/** All SQL on asset_acl. */
@Injectable()
export class AclRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  list(assetId: string, m: EntityManager = this.ds.manager): Promise<AclEntry[]> {
    return m.query(`SELECT principal, permission::text AS permission FROM asset_acl WHERE asset_id = $1 ORDER BY principal, permission`, [
      assetId,
    ]);
  }

  /** Serialises ACL writers of one asset (so the entry limit holds under concurrency). */
  async lock(m: EntityManager, assetId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended('asset_acl:' || $1::text, 0))`, [assetId]);
  }

  async insert(m: EntityManager, assetId: string, entries: AclEntry[]): Promise<number> {
    if (!entries.length) return 0;
    const rows: unknown[] = await m.query(
      `INSERT INTO asset_acl (asset_id, principal, permission)
       SELECT $1, p, perm::asset_permission FROM unnest($2::varchar[], $3::text[]) AS t(p, perm)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [assetId, entries.map((e) => e.principal), entries.map((e) => e.permission)],
    );
    return rows.length;
  }

  async deleteAll(m: EntityManager, assetId: string): Promise<void> {
    await m.query(`DELETE FROM asset_acl WHERE asset_id = $1`, [assetId]);
  }

  /** Returns whether the grant existed. */
  async delete(assetId: string, entry: AclEntry, m: EntityManager = this.ds.manager): Promise<boolean> {
    const [, affected] = await m.query<[unknown, number]>(
      `DELETE FROM asset_acl WHERE asset_id = $1 AND principal = $2 AND permission = $3::asset_permission`,
      [assetId, entry.principal, entry.permission],
    );
    return affected > 0;
  }
}
