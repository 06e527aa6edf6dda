import { timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { Errors, MetricsService, OBSERVABILITY_CONFIG, ObservabilityConfig, Public } from '@app/core';
import type { FastifyReply } from 'fastify';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Prometheus scrape endpoint. Not behind a user JWT (Prometheus scrapes it); with METRICS_TOKEN set it needs
 * `Authorization: Bearer <METRICS_TOKEN>`.
 */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(OBSERVABILITY_CONFIG) private readonly observability: ObservabilityConfig,
  ) {}

  @Public()
  @Get('metrics')
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    const expected = this.observability.METRICS_TOKEN;
    if (expected) {
      if (!authorization) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <METRICS_TOKEN>"');
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m || !sameSecret(m[1], expected)) throw Errors.unauthenticated('Invalid metrics token');
    }
    const body = await this.metrics.render();
    await reply.header('content-type', this.metrics.contentType).header('cache-control', 'no-store').send(body);
  }
}
