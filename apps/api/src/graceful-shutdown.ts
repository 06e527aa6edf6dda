import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { OutboxService, ServerConfig } from '@app/core';
import { DrainService } from '@app/health';
import type { Logger } from 'pino';

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * SIGTERM/SIGINT → graceful shutdown, in this order:
 *  1. /health/ready fails (draining), and stays so for SHUTDOWN_DRAIN_DELAY_MS so load balancers and
 *     Kubernetes endpoints stop sending new traffic;
 *  2. the HTTP server stops accepting connections and waits for in-flight requests (new requests on
 *     kept-alive connections get 503);
 *  3. the outbox relay stops, and every Bull queue stops taking jobs and waits for its active jobs;
 *  4. Nest shuts the modules down (region checks, Redis, database), and the process exits 0.
 * Steps 2-4 are bounded by SHUTDOWN_TIMEOUT_MS; past it the process exits 1. A second signal exits at once.
 * Replaces Nest's enableShutdownHooks(), which would close Redis and the outbox before the server stops.
 */
export function installGracefulShutdown(
  app: NestFastifyApplication,
  serverConfig: Pick<ServerConfig, 'SHUTDOWN_DRAIN_DELAY_MS' | 'SHUTDOWN_TIMEOUT_MS'>,
  logger: Logger,
): void {
  let shuttingDown = false;

  const shutdown = async (signal: NodeJS.Signals) => {
    const started = Date.now();
    const drain = app.get(DrainService);
    drain.begin();
    logger.info({ signal, drainDelayMs: serverConfig.SHUTDOWN_DRAIN_DELAY_MS }, `${signal}: draining (readiness now fails)`);
    if (serverConfig.SHUTDOWN_DRAIN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, serverConfig.SHUTDOWN_DRAIN_DELAY_MS));

    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: serverConfig.SHUTDOWN_TIMEOUT_MS }, 'graceful shutdown timed out; exiting with work unfinished');
      process.exit(1);
    }, serverConfig.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();

    // Connections that finish their last request while we wait would otherwise idle on until the keep-alive
    // timeout: close each as soon as it is idle.
    const server = app.getHttpServer();
    const sweeper = setInterval(() => server.closeIdleConnections?.(), 100);
    try {
      await app.getHttpAdapter().close();
    } finally {
      clearInterval(sweeper);
    }
    logger.info('HTTP server closed; in-flight requests finished');
    // No new work: the outbox relay finishes its pass and stops (undelivered messages wait for another replica),
    // then the queues stop taking jobs and the active ones finish.
    await app.get(OutboxService).onModuleDestroy();
    await drain.stopWorkers(serverConfig.SHUTDOWN_TIMEOUT_MS);
    await app.close();
    clearTimeout(deadline);
    logger.info({ ms: Date.now() - started }, 'shutdown complete');
    process.exit(0);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    shutdown(signal).catch((e) => {
      logger.error({ err: e }, 'graceful shutdown failed');
      process.exit(1);
    });
  };
  for (const s of SIGNALS) process.on(s, onSignal);
}
