/** Creates the database when missing and runs pending migrations: npm run migrate */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions, ensureDatabaseExists, loadConfig } from '@app/core';

async function main() {
  const config = loadConfig();
  if (await ensureDatabaseExists(config.DATABASE_URL)) console.log('created database');
  const ds = await new DataSource(dataSourceOptions(config)).initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'each' });
    console.log(ran.length ? `applied: ${ran.map((m) => m.name).join(', ')}` : 'schema is up to date');
  } finally {
    await ds.destroy();
  }
}
main().catch((e) => {
  console.error(`migrate failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
