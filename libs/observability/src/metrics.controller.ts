import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblem, ErrorCode, MetricsService, OBSERVABILITY_CONFIG, ObservabilityConfig, Public } from '@app/core';
import type { FastifyReply } from 'fastify';
import { assertMetricsAccess } from './metrics-access';

/**
 * Prometheus scrape endpoint on the main port (when METRICS_PORT is unset). Not behind a user JWT (Prometheus scrapes
 * it); with METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>`.
 */
@ApiTags('observability')
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(OBSERVABILITY_CONFIG) private readonly observability: ObservabilityConfig,
  ) {}

  @Public()
  @Get('metrics')
  @ApiProblem(404, 'Not served on this port: METRICS_PORT is set (metrics have a listener of their own) or METRICS_ENABLED=false', [
    ErrorCode.NotFound,
  ])
  @ApiOkResponse({
    description: 'Prometheus text exposition format (`text/plain; version=0.0.4`)',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'The Prometheus text exposition of the service metrics (when METRICS_PORT is unset). No user token; with METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>`.',
  })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    assertMetricsAccess(this.observability.METRICS_TOKEN, authorization);
    const body = await this.metrics.render();
    await reply.header('content-type', this.metrics.contentType).header('cache-control', 'no-store').send(body);
  }
}
