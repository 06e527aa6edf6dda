import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/config-sections';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { AccessSearchQuotas1764000001000 } from './migrations/1764000001000-access-search-quotas';
import { DerivedMedia1764000002000 } from './migrations/1764000002000-derived-media';
import { Webhooks1764000002100 } from './migrations/1764000002100-webhooks';
import { RegionsAndCdn1764000003000 } from './migrations/1764000003000-regions-and-cdn';
import { UploadSessions1764000004000 } from './migrations/1764000004000-upload-sessions';
import { Lifecycle1764000005000 } from './migrations/1764000005000-lifecycle';
import { CreatePendingAsset1764000008000 } from './migrations/1764000008000-create-pending-asset';
import { ApiKeys1764000009100 } from './migrations/1764000009100-api-keys';
import { PerAssetObjects1764000013500 } from './migrations/1764000013500-per-asset-objects';
import { PendingAssetBatches1764000015000 } from './migrations/1764000015000-pending-asset-batches';
import { Buckets1764000009500 } from './migrations/1764000009500-buckets';
import { Renditions1764000016000 } from './migrations/1764000016000-renditions';
import { MultipartAssembly1764000017000 } from './migrations/1764000017000-multipart-assembly';
import { UsagePerStatement1764000017200 } from './migrations/1764000017200-usage-per-statement';
import { SearchText1764000017400 } from './migrations/1764000017400-search-text';
import { AclSearchText1764000018100 } from './migrations/1764000018100-acl-search-text';
import { PendingBatchExpiredPlan1764000018400 } from './migrations/1764000018400-pending-batch-expired-plan';

export const MIGRATIONS = [
  InitialSchema1764000000000,
  AccessSearchQuotas1764000001000,
  DerivedMedia1764000002000,
  Webhooks1764000002100,
  RegionsAndCdn1764000003000,
  UploadSessions1764000004000,
  Lifecycle1764000005000,
  CreatePendingAsset1764000008000,
  ApiKeys1764000009100,
  Buckets1764000009500,
  PerAssetObjects1764000013500,
  PendingAssetBatches1764000015000,
  Renditions1764000016000,
  MultipartAssembly1764000017000,
  UsagePerStatement1764000017200,
  SearchText1764000017400,
  AclSearchText1764000018100,
  PendingBatchExpiredPlan1764000018400,
];

/**
 * Settings of every pooled session (libpq `options`). These are short OLTP statements:
 * - no JIT: one whose estimate crosses jit_above_cost (a list with many branches) would spend hundreds of ms
 *   compiling to save a few (measured: GET /media with a tag filter);
 * - no parallel workers: a parallel plan pays ~10-20 ms of worker start-up for statements that take a few ms, and the
 *   planner picks one on an estimate's whim (measured: GET /media of a stranger, whose shared branch turned to a
 *   Gather Merge when the bucket branch's row estimate shrank, 16 → 38 ms). Every list shape was measured with it.
 */
export const DATABASE_SESSION_OPTIONS = '-c jit=off -c max_parallel_workers_per_gather=0';

export function dataSourceOptions(database: DatabaseConfig): DataSourceOptions {
  return {
    type: 'postgres',
    url: database.DATABASE_URL,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    extra: {
      max: database.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 5000,
      statement_timeout: database.DATABASE_STATEMENT_TIMEOUT_MS,
      query_timeout: database.DATABASE_STATEMENT_TIMEOUT_MS + 1000,
      idle_in_transaction_session_timeout: 60000,
      application_name: 'media-storage',
      options: DATABASE_SESSION_OPTIONS,
    },
  };
}

/** Create the database named in DATABASE_URL when it does not exist (connects to `postgres` to do it). */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL must name a database');
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e?.code !== '42P04') throw e; // created concurrently by another replica
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}
