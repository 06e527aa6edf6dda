import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { QuotaOverride } from './quota-rules';

/** All SQL on owner_quotas (per-owner overrides of the default limits). */
@Injectable()
export class QuotaRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async findOverride(ownerId: string, m: EntityManager = this.ds.manager): Promise<QuotaOverride | null> {
    const [row] = await m.query<{ maxBytes: string | null; maxAssets: string | null }[]>(`SELECT max_bytes::text AS "maxBytes", max_assets::text AS "maxAssets" FROM owner_quotas WHERE owner_id = $1`, [ownerId]);
    if (!row) return null;
    return { maxBytes: row.maxBytes === null ? null : Number(row.maxBytes), maxAssets: row.maxAssets === null ? null : Number(row.maxAssets) };
  }

  async upsertOverride(ownerId: string, o: QuotaOverride): Promise<void> {
    await this.ds.query(
      `INSERT INTO owner_quotas (owner_id, max_bytes, max_assets) VALUES ($1, $2, $3)
       ON CONFLICT (owner_id) DO UPDATE SET max_bytes = EXCLUDED.max_bytes, max_assets = EXCLUDED.max_assets, updated_at = now()`,
      [ownerId, o.maxBytes, o.maxAssets],
    );
  }

  async deleteOverride(ownerId: string): Promise<boolean> {
    const [, affected] = await this.ds.query<[unknown, number]>(`DELETE FROM owner_quotas WHERE owner_id = $1`, [ownerId]);
    return affected > 0;
  }
}
