import cluster, { Worker } from 'node:cluster';
import { DataSource } from 'typeorm';
import { AppConfig, createLogger, dataSourceOptions, ensureDatabaseExists } from '@app/core';

/**
 * WEB_CONCURRENCY > 1: this (primary) process prepares the database once, then runs that many worker processes
 * (node:cluster) that share the listening port; each worker is a whole service (HTTP, queue workers, outbox),
 * exactly like one more replica. The primary does no request work: it forwards SIGTERM to every worker
 * (each drains gracefully) and exits when they all have, with the worst exit code; a worker that dies on its own
 * is started again after a second, unless one fails before it ever listened (bad config, database down): then
 * the primary stops the others and exits with that worker's code.
 */
export async function runCluster(config: AppConfig, workers: number): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  if (config.DATABASE_AUTO_CREATE && (await ensureDatabaseExists(config.DATABASE_URL)))
    logger.info('Created the database named in DATABASE_URL');
  if (config.DATABASE_MIGRATE_ON_START) {
    const ds = await new DataSource(dataSourceOptions(config)).initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await ds.destroy();
    }
  }
  // The workers find the schema ready: they neither create the database nor migrate (no race between them).
  const workerEnv = { DATABASE_AUTO_CREATE: 'false', DATABASE_MIGRATE_ON_START: 'false' };
  const listened = new Set<number>();
  let stopping = false;
  let exitCode = 0;

  const start = () => {
    const w = cluster.fork(workerEnv);
    w.on('listening', () => listened.add(w.id));
    return w;
  };
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const w of alive()) w.process.kill(signal);
  };

  cluster.on('exit', (w, code, signal) => {
    const status = code ?? (signal ? 1 : 0);
    if (stopping) {
      exitCode = Math.max(exitCode, status);
      if (!alive().length) process.exit(exitCode);
      return;
    }
    if (!listened.has(w.id)) {
      logger.error({ worker: w.process.pid, code, signal }, 'a worker failed to start; stopping the others');
      exitCode = status || 1;
      stopAll('SIGTERM');
      if (!alive().length) process.exit(exitCode);
      return;
    }
    logger.error({ worker: w.process.pid, code, signal }, 'a worker exited; starting another');
    setTimeout(() => !stopping && start(), 1000).unref();
  });
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  // Ctrl-C reaches every worker from the terminal (one process group): forwarding it would be a second signal,
  // which makes a worker skip its graceful shutdown.
  process.on('SIGINT', () => (stopping = true));
  for (let i = 0; i < workers; i++) start();
  logger.info({ workers }, `started ${workers} worker processes`);
}

/** True in a worker process of runCluster (or a lone process): it serves requests itself. */
export const servesRequests = (workers: number) => workers <= 1 || !cluster.isPrimary;
