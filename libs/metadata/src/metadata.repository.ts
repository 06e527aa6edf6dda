import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { RESERVED_METADATA_PREFIXES } from './metadata-rules';

/** All SQL on asset_metadata. */
@Injectable()
export class MetadataRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async getMap(assetId: string, m: EntityManager = this.ds.manager): Promise<Record<string, string>> {
    const rows: { key: string; value: string }[] = await m.query(`SELECT key, value FROM asset_metadata WHERE asset_id = $1 ORDER BY key`, [
      assetId,
    ]);
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Metadata of many assets, keyed by asset id (every id present, `{}` when it has none). */
  async getMaps(assetIds: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>(assetIds.map((id) => [id, {}]));
    if (!assetIds.length) return out;
    const rows: { asset_id: string; key: string; value: string }[] = await this.ds.query(
      `SELECT asset_id, key, value FROM asset_metadata WHERE asset_id = ANY($1::uuid[]) ORDER BY asset_id, key`,
      [assetIds],
    );
    for (const r of rows) out.get(r.asset_id)![r.key] = r.value;
    return out;
  }

  /** Serialises metadata writers of one asset (so the per-asset key limit holds under concurrency). */
  async lock(m: EntityManager, assetId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended('asset_metadata:' || $1::text, 0))`, [assetId]);
  }

  /** How many user keys (outside the reserved namespaces) the asset has, and whether `key` is one of its keys. */
  async userKeyCount(m: EntityManager, assetId: string, key: string): Promise<{ n: number; exists: boolean }> {
    const [{ n, exists }] = await m.query<{ n: number; exists: boolean | null }[]>(
      `SELECT count(*) FILTER (WHERE NOT (${reservedSql('key', 2)}))::int AS n, bool_or(key = $${2 + RESERVED_METADATA_PREFIXES.length}) AS exists
         FROM asset_metadata WHERE asset_id = $1`,
      [assetId, ...reservedPatterns(), key],
    );
    return { n, exists: !!exists };
  }

  async upsert(m: EntityManager, assetId: string, key: string, value: string): Promise<void> {
    await m.query(
      `INSERT INTO asset_metadata (asset_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (asset_id, key) DO UPDATE SET value = EXCLUDED.value`,
      [assetId, key, value],
    );
  }

  /** Returns whether the key existed. */
  async delete(assetId: string, key: string): Promise<boolean> {
    const [, affected] = await this.ds.query<[unknown, number]>(`DELETE FROM asset_metadata WHERE asset_id = $1 AND key = $2`, [
      assetId,
      key,
    ]);
    return !!affected;
  }

  /**
   * Makes the keys in the reserved namespaces exactly `entries` (already checked), in `m`, in one statement: the
   * reserved keys not among them are deleted, the others upserted (two disjoint sets of rows, so the two parts of
   * the statement never touch the same row). No entries: every reserved key is deleted and nothing inserted.
   */
  async replaceReserved(m: EntityManager, assetId: string, entries: Record<string, string>): Promise<void> {
    const keys = Object.keys(entries);
    const patterns = reservedPatterns();
    const k = patterns.length + 2;
    await m.query(
      `WITH gone AS (
         DELETE FROM asset_metadata WHERE asset_id = $1 AND (${reservedSql('key', 2)}) AND key <> ALL($${k}::varchar[])
       )
       INSERT INTO asset_metadata (asset_id, key, value) SELECT $1, k, v FROM unnest($${k}::varchar[], $${k + 1}::text[]) AS t(k, v)
       ON CONFLICT (asset_id, key) DO UPDATE SET value = EXCLUDED.value`,
      [assetId, ...patterns, keys, keys.map((key) => entries[key])],
    );
  }
}

/** `key LIKE $n OR key LIKE $n+1 ...` over the reserved prefixes, parameters starting at `first`. */
function reservedSql(column: string, first: number): string {
  return RESERVED_METADATA_PREFIXES.map((_, i) => `${column} LIKE $${first + i}`).join(' OR ');
}

function reservedPatterns(): string[] {
  return RESERVED_METADATA_PREFIXES.map((p) => `${p}%`);
}
