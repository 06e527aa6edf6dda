import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * node-postgres' pool under TypeORM's data source: for hot paths that want named (prepared) statements — parsed and
 * planned once per connection — and no TypeORM query runner per call. Outside a transaction only.
 */
export function pgPool(ds: DataSource): Pool {
  return (ds.driver as unknown as { master: Pool }).master;
}
