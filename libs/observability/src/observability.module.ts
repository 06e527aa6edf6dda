import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullBoardModule, BullBoardModuleOptions } from '@bull-board/nestjs';
import { FastifyAdapter } from '@bull-board/fastify';
import type { ObservabilityConfig } from '@app/core';
import { BullBoardQueues } from './bull-board.queues';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { BULL_BOARD_ROUTE } from './observability.constants';
import { QueueMetrics } from './queue.metrics';
import { QueueRegistry } from './queue-registry';

/**
 * Operations: `GET /metrics` (Prometheus, on the main port or, with METRICS_PORT, on a listener of its own; the
 * registry is core's MetricsService, where every module registers its own series), queue depth and job metrics for every Bull queue, and Bull Board at /admin/queues (admin only:
 * the guard is a Fastify hook, see installHttpObservability). Import after the modules that register queues.
 */
/**
 * @bull-board/fastify 9.10.1 carries its own @bull-board/api 9.10.1 while @bull-board/nestjs uses 9.10.2: the same
 * shapes in two declaration files, which TypeScript will not unify (private members). Same runtime contract.
 */
const BoardAdapter = FastifyAdapter as unknown as BullBoardModuleOptions['adapter'];

@Module({})
export class ObservabilityModule {
  static forRoot(config: Pick<ObservabilityConfig, 'METRICS_ENABLED' | 'METRICS_PORT' | 'BULL_BOARD_ENABLED'>): DynamicModule {
    // METRICS_PORT: /metrics on its own listener (MetricsListener, started by the entry point), not on the main port.
    const ownListener = config.METRICS_ENABLED && config.METRICS_PORT !== undefined;
    return {
      module: ObservabilityModule,
      imports: [
        DiscoveryModule,
        ...(config.BULL_BOARD_ENABLED
          ? [
              BullBoardModule.forRoot({
                route: BULL_BOARD_ROUTE,
                adapter: BoardAdapter,
                boardOptions: { uiConfig: { boardTitle: 'media-storage queues' } },
              }),
            ]
          : []),
      ],
      controllers: config.METRICS_ENABLED && !ownListener ? [MetricsController] : [],
      providers: [
        QueueRegistry,
        ...(config.METRICS_ENABLED ? [QueueMetrics] : []),
        ...(ownListener ? [MetricsListener] : []),
        ...(config.BULL_BOARD_ENABLED ? [BullBoardQueues] : []),
      ],
      exports: ownListener ? [MetricsListener] : [],
    };
  }
}
