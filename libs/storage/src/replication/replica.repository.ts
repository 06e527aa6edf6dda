import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export interface ObjectRef {
  bucket: string;
  key: string;
}

/**
 * All SQL on replicated_objects (objects kept in every region) and object_replicas (which regions hold a
 * copy). Storage's own bookkeeping, keyed by the logical bucket and key.
 */
@Injectable()
export class ReplicaRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Registers an object for replication (idempotent); inside the caller's transaction when `m` is given. */
  async track(ref: ObjectRef & { sizeBytes?: string | number | null }, m: EntityManager = this.ds.manager): Promise<void> {
    await m.query(
      `INSERT INTO replicated_objects (bucket, object_key, size_bytes) VALUES ($1, $2, $3)
       ON CONFLICT (bucket, object_key) DO NOTHING`,
      [ref.bucket, ref.key, ref.sizeBytes ?? null],
    );
  }

  async isTracked(ref: ObjectRef): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(`SELECT 1 FROM replicated_objects WHERE bucket = $1 AND object_key = $2`, [
      ref.bucket,
      ref.key,
    ]);
    return rows.length > 0;
  }

  /** Records that `region` holds a copy; false when the object is no longer tracked (deleted meanwhile). */
  async recordCopy(ref: ObjectRef, region: string, etag: string | undefined): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `INSERT INTO object_replicas (bucket, object_key, region, etag)
       SELECT bucket, object_key, $3, $4 FROM replicated_objects WHERE bucket = $1 AND object_key = $2
       ON CONFLICT (bucket, object_key, region) DO UPDATE SET etag = EXCLUDED.etag, recorded_at = now()
       RETURNING region`,
      [ref.bucket, ref.key, region, etag ?? null],
    );
    return rows.length > 0;
  }

  /** A region turned out not to hold a copy it was recorded with. */
  async dropCopy(ref: ObjectRef, region: string): Promise<void> {
    await this.ds.query(`DELETE FROM object_replicas WHERE bucket = $1 AND object_key = $2 AND region = $3`, [ref.bucket, ref.key, region]);
  }

  /** Stops tracking (and forgets every copy of) an object that is being deleted. */
  async forget(ref: ObjectRef): Promise<void> {
    await this.ds.query(`DELETE FROM replicated_objects WHERE bucket = $1 AND object_key = $2`, [ref.bucket, ref.key]);
  }

  async regionsHolding(ref: ObjectRef): Promise<string[]> {
    const rows: { region: string }[] = await this.ds.query(
      `SELECT region FROM object_replicas WHERE bucket = $1 AND object_key = $2 ORDER BY region`,
      [ref.bucket, ref.key],
    );
    return rows.map((r) => r.region);
  }

  /** Tracked objects that lack a recorded copy in at least one of `regions`, oldest first. */
  async findIncomplete(regions: string[], limit: number): Promise<ObjectRef[]> {
    const rows: { bucket: string; object_key: string }[] = await this.ds.query(
      `SELECT o.bucket, o.object_key FROM replicated_objects o
        WHERE (SELECT count(*) FROM object_replicas r
                WHERE r.bucket = o.bucket AND r.object_key = o.object_key AND r.region = ANY($1::varchar[])) < $2
        ORDER BY o.created_at, o.object_key
        LIMIT $3`,
      [regions, regions.length, limit],
    );
    return rows.map((r) => ({ bucket: r.bucket, key: r.object_key }));
  }
}
