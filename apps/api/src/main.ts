import './threadpool'; // first: sizes libuv's threadpool before anything uses it
import 'reflect-metadata';
import { ConfigValidationError, loadConfig } from '@app/core';
import { MetricsListener } from '@app/observability';
import { createApp } from './bootstrap';
import { runCluster, servesRequests } from './cluster';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigValidationError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  if (!servesRequests(config.WEB_CONCURRENCY)) return runCluster(config, config.WEB_CONCURRENCY);
  const app = await createApp(config);
  await app.listen({ port: config.PORT, host: config.HOST });
  // METRICS_PORT: /metrics is served on its own listener (METRICS_HOST), not on PORT.
  if (config.METRICS_ENABLED && config.METRICS_PORT !== undefined) await app.get(MetricsListener).listen();
}

main().catch((e) => {
  process.stderr.write(`Fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
