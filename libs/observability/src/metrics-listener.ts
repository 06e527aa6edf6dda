import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { MetricsService, OBSERVABILITY_CONFIG, ObservabilityConfig, toProblem } from '@app/core';
import { assertMetricsAccess } from './metrics-access';
import { METRICS_ROUTE } from './observability.constants';

/**
 * METRICS_PORT set: `GET /metrics` is served by this listener of its own (bound to METRICS_HOST, 127.0.0.1 by
 * default) and not on the main port, so a scraper reaches it without it being on the public ingress. METRICS_TOKEN,
 * when set, is required here too. Anything else answers 404. Started by the entry point once the main server
 * listens; closed with the app.
 */
@Injectable()
export class MetricsListener implements OnModuleDestroy {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(OBSERVABILITY_CONFIG) private readonly observability: ObservabilityConfig,
  ) {}

  /** Listens on METRICS_HOST:METRICS_PORT; resolves with the bound address (rejects when the port is taken). */
  async listen(): Promise<AddressInfo> {
    const port = this.observability.METRICS_PORT;
    if (port === undefined) throw new Error('MetricsListener without METRICS_PORT');
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10000;
    server.requestTimeout = 30000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.observability.METRICS_HOST }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.logger.log(`metrics served on http://${address.address}:${address.port}${METRICS_ROUTE} only`);
    return address;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    try {
      if (path !== METRICS_ROUTE || (req.method !== 'GET' && req.method !== 'HEAD')) {
        return send(
          res,
          404,
          'application/json; charset=utf-8',
          JSON.stringify({ statusCode: 404, error: 'NotFound', message: `Only GET ${METRICS_ROUTE} is served here` }),
        );
      }
      assertMetricsAccess(this.observability.METRICS_TOKEN, req.headers.authorization);
      const body = await this.metrics.render();
      send(res, 200, this.metrics.contentType, req.method === 'HEAD' ? '' : body);
    } catch (e) {
      const problem = toProblem(e);
      if (problem.statusCode >= 500) this.logger.error({ err: e }, 'metrics scrape failed');
      send(res, problem.statusCode, 'application/json; charset=utf-8', JSON.stringify(problem));
    }
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}
